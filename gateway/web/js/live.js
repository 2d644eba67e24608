// Live panel: WS /v1/feed, newest first. Plain reads and vehicle events ({"type": "event"}: one vehicle,
// voted over several frames) are shown in the same list, told apart by a badge and a border.

import { feedUrl, imageUrl, releaseImage, token } from "./api.js";
import { cameraName } from "./cameras.js";
import { $, h, confidenceLevel, formatConfidence, formatTime } from "./dom.js";

const MAX_ITEMS = 100;  // older items (and their crop blobs) are dropped so a busy feed cannot grow without end
const RETRY_MS = [1000, 2000, 5000, 10000];

let socket = null;
let attempt = 0;
let retryTimer = null;

function setStatus(text, kind) {
  const el = $("#feed-status");
  el.textContent = text;
  el.className = "pill " + kind;
}

function crop(item) {
  if (!item.crop_url) return h("div", { class: "crop none", "aria-hidden": "true" });
  const img = h("img", { class: "crop", alt: `plate ${item.plate}`, width: 160, height: 48 });
  img.dataset.src = item.crop_url;
  imageUrl(item.crop_url).then((url) => (img.src = url), () => img.replaceWith(h("div", { class: "crop none" })));
  return img;
}

function entry(kind, item) {
  const isEvent = kind === "event";
  const when = isEvent ? item.last_seen : item.captured_at;
  const details = isEvent
    ? `${item.frames} frame${item.frames === 1 ? "" : "s"}, since ${formatTime(item.first_seen)}`
    : item.region && item.region !== "generic" ? `region ${item.region}` : "";
  return h("li", { class: `feed-item ${kind}` },
    crop(item),
    h("div", { class: "feed-main" },
      h("span", { class: "plate", text: item.plate || "—" }),
      h("span", { class: `badge ${isEvent ? "event" : "read"}`, text: isEvent ? "vehicle" : "read" }),
      h("span", { class: `conf ${confidenceLevel(item.confidence)}`, text: formatConfidence(item.confidence) })),
    h("div", { class: "feed-meta" },
      h("span", { class: "camera", text: cameraName(item.camera_id) }),
      h("time", { datetime: when || "", text: formatTime(when) }),
      details ? h("span", { class: "hint", text: details }) : null));
}

function add(kind, item) {
  const list = $("#live-list");
  list.prepend(entry(kind, item));
  $("#live-empty").hidden = true;
  while (list.children.length > MAX_ITEMS) {
    const old = list.lastElementChild;
    old.querySelectorAll("img[data-src]").forEach((img) => releaseImage(img.dataset.src));
    old.remove();
  }
}

function onMessage(message) {
  let data;
  try {
    data = JSON.parse(message.data);
  } catch {
    return;  // not ours to show
  }
  if (data.type === "read" && data.read) add("read", data.read);
  else if (data.type === "event" && data.event) add("event", data.event);
}

export function stop(status = "disconnected") {
  clearTimeout(retryTimer);
  if (socket) {
    socket.onclose = null;  // this close is ours: do not schedule a reconnect for it
    socket.close();
    socket = null;
  }
  setStatus(status, "off");
}

export function connect() {
  stop();
  if (!token.get()) return setStatus("no token", "off");
  setStatus("connecting…", "warn");
  socket = new WebSocket(feedUrl($("#live-camera").value));
  socket.onopen = () => {
    attempt = 0;
    setStatus("live", "ok");
  };
  socket.onmessage = onMessage;
  // A refused token also ends here (browsers hide the 401), so the app checks the token over HTTP first.
  socket.onclose = () => {
    const wait = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)];
    setStatus(`reconnecting in ${wait / 1000}s`, "warn");
    retryTimer = setTimeout(connect, wait);
  };
}

export function init() {
  $("#live-camera").addEventListener("change", connect);
  $("#live-form").addEventListener("submit", (e) => e.preventDefault());
  $("#live-clear").addEventListener("click", () => {
    const list = $("#live-list");
    list.querySelectorAll("img[data-src]").forEach((img) => releaseImage(img.dataset.src));
    list.replaceChildren();
    $("#live-empty").hidden = false;
  });
}
