// Every call to the /v1 API goes through here: it adds the token and turns the API's
// {"error": {"code", "message"}} answers into ApiError, so each panel shows the server's own message.

const TOKEN_KEY = "platestream.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY) || "",
  set: (value) => localStorage.setItem(TOKEN_KEY, value),
  clear: () => localStorage.removeItem(TOKEN_KEY),
};

// Listeners told when the API rejects the token, so the app can ask for a new one.
const unauthorizedListeners = [];
export const onUnauthorized = (fn) => unauthorizedListeners.push(fn);

async function errorFrom(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
    else if (body && body.detail) message = JSON.stringify(body.detail);  // FastAPI's own 422s
  } catch {
    // Not JSON (a proxy's error page, say): keep the status text.
  }
  return new ApiError(response.status, code, message);
}

export async function request(path, { method = "GET", json, body, as = "json", authToken } = {}) {
  const headers = { Authorization: "Bearer " + (authToken ?? token.get()) };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch (err) {
    throw new ApiError(0, "network", "cannot reach the server: " + err.message);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && authToken === undefined) unauthorizedListeners.forEach((fn) => fn(error));
    throw error;
  }
  if (response.status === 204) return null;
  return as === "blob" ? response.blob() : response.json();
}

// Crops need the Authorization header, which <img src> cannot send: fetch them as blobs instead.
// Object URLs are shared per path (the live feed and a search may show the same crop) and counted, so the
// blob is freed when the last row showing it calls releaseImage.
const images = new Map();  // path -> {url: Promise<string>, users: number}

export function imageUrl(path) {
  let entry = images.get(path);
  if (!entry) {
    entry = { users: 0, url: request(path, { as: "blob" }).then((blob) => URL.createObjectURL(blob)) };
    entry.url.catch(() => images.delete(path));  // retry next time instead of keeping a failure
    images.set(path, entry);
  }
  entry.users += 1;
  return entry.url;
}

export function releaseImage(path) {
  const entry = images.get(path);
  if (!entry || --entry.users > 0) return;
  images.delete(path);
  entry.url.then((url) => URL.revokeObjectURL(url), () => {});
}

export function feedUrl(cameraId) {
  const url = new URL("/v1/feed", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", token.get());  // browsers cannot set headers on a WebSocket
  if (cameraId) url.searchParams.set("camera_id", cameraId);
  return url.toString();
}
