// Cameras panel: list with live status, add, enable/disable, delete. It also keeps the id -> name map the
// other panels use, and fills every <select data-cameras>.

import { request } from "./api.js";
import { $, h, busy, formatTime, showError } from "./dom.js";

const names = new Map();
export const cameraName = (id) => (id === null || id === undefined ? "upload" : names.get(id) ?? `#${id}`);

const REFRESH_MS = 5000;  // status (connected, measured fps) changes by itself: poll while the panel is shown
let timer = null;
const armed = new Set();  // cameras whose Delete button was pressed once

function fillSelects(cameras) {
  for (const select of document.querySelectorAll("select[data-cameras]")) {
    const chosen = select.value;
    select.replaceChildren(h("option", { value: "", text: "all cameras" }),
      ...cameras.map((c) => h("option", { value: String(c.id), text: c.name })));
    select.value = cameras.some((c) => String(c.id) === chosen) ? chosen : "";
  }
}

// Stream URLs often carry a password (rtsp://user:pass@host), in the URL and in reader errors that quote it:
// do not show it on screen.
const hidePasswords = (text) => text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/gi, "$1:•••@");

function statusCell(camera) {
  if (!camera.enabled) return h("span", { class: "pill off", text: "disabled" });
  if (camera.connected) return h("span", { class: "pill ok", text: "connected" });
  return h("span", { class: "pill warn", text: camera.url.startsWith("whip:") ? "waiting for push" : "connecting" });
}

function row(camera, errorEl) {
  const act = (work) => async (event) => {
    showError(errorEl, null);
    try {
      await busy(event.target.closest("tr"), work);
      await refresh();
    } catch (error) {
      showError(errorEl, error);
    }
  };
  const toggle = act(() => request(`/v1/cameras/${camera.id}`, { method: "PATCH", json: { enabled: !camera.enabled } }));
  // Deleting takes two presses of the same button (no modal confirm(): it traps keyboard users and tests).
  // The armed state lives outside the row because the periodic refresh rebuilds the rows.
  const remove = (event) => {
    if (armed.has(camera.id)) {
      armed.delete(camera.id);
      return act(() => request(`/v1/cameras/${camera.id}`, { method: "DELETE" }))(event);
    }
    armed.add(camera.id);
    Object.assign(event.target, { textContent: "Confirm delete", className: "danger" });
    event.target.setAttribute("aria-label", `Confirm delete of ${camera.name}`);
    setTimeout(() => armed.delete(camera.id) && refresh().catch(() => {}), 4000);
  };
  // A disabled camera's last rate is history, not a measurement: show none.
  const measured = camera.enabled && camera.measured_fps != null ? `${camera.measured_fps.toFixed(1)} fps` : "—";
  return h("tr", { "data-camera-id": camera.id },
    h("th", { scope: "row", text: camera.name }),
    h("td", { class: "url", text: hidePasswords(camera.url), title: hidePasswords(camera.url) }),
    h("td", { class: "num", text: String(camera.fps) }),
    h("td", {}, statusCell(camera)),
    h("td", {}, h("span", { text: measured }), h("br"),
      h("small", { class: "hint", text: camera.last_frame_at ? "last frame " + formatTime(camera.last_frame_at) : "" })),
    h("td", { class: "last-error", text: camera.last_error ? hidePasswords(camera.last_error) : "—" }),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "ghost", onclick: toggle, "data-key": `toggle-${camera.id}`,
        "aria-label": `${camera.enabled ? "Disable" : "Enable"} ${camera.name}`, text: camera.enabled ? "Disable" : "Enable" }),
      h("button", { type: "button", class: armed.has(camera.id) ? "danger" : "ghost", onclick: remove,
        "data-key": `delete-${camera.id}`,
        "aria-label": `${armed.has(camera.id) ? "Confirm delete of" : "Delete"} ${camera.name}`,
        text: armed.has(camera.id) ? "Confirm delete" : "Delete" })));
}

export async function refresh() {
  const errorEl = $("#camera-error");
  const cameras = await request("/v1/cameras");
  names.clear();
  cameras.forEach((c) => names.set(c.id, c.name));
  fillSelects(cameras);
  // Rebuilding the rows would drop keyboard focus: put it back on the same button.
  const focused = document.activeElement?.dataset?.key;
  $("#camera-table tbody").replaceChildren(...cameras.map((c) => row(c, errorEl)));
  if (focused) document.querySelector(`[data-key="${focused}"]`)?.focus();
  $("#cameras-empty").hidden = cameras.length > 0;
  return cameras;
}

async function add(event) {
  event.preventDefault();
  const form = event.target;
  const errorEl = $("#camera-error");
  showError(errorEl, null);
  if (!form.checkValidity()) {  // the browser's own messages, next to each field
    form.reportValidity();
    return;
  }
  const data = new FormData(form);
  try {
    await busy(form, () => request("/v1/cameras", {
      method: "POST", json: { name: data.get("name").trim(), url: data.get("url").trim(), fps: Number(data.get("fps")) },
    }));
    form.reset();
    await refresh();
    $("#cam-name").focus();
  } catch (error) {
    showError(errorEl, error);
  }
}

export function setVisible(visible) {
  clearInterval(timer);
  timer = visible ? setInterval(() => refresh().catch(() => {}), REFRESH_MS) : null;
}

export function init() {
  $("#camera-form").addEventListener("submit", add);
  $("#cameras-refresh").addEventListener("click", () => refresh().catch((e) => showError($("#camera-error"), e)));
}
