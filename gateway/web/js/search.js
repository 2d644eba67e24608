// Search panel: GET /v1/reads with the form's filters; "Load more" follows next_cursor.

import { imageUrl, releaseImage, request } from "./api.js";
import { cameraName } from "./cameras.js";
import { $, h, busy, confidenceLevel, formatConfidence, formatTime, showError } from "./dom.js";

// Reads per page; data-page-size on the form overrides it (tests page through a handful of reads).
const pageSize = () => $("#search-form").dataset.pageSize || "50";
let query = null;   // the filters of the shown results, reused with the cursor
let cursor = null;
let shown = 0;

function params(form) {
  const data = new FormData(form);
  const out = new URLSearchParams({ limit: pageSize() });
  const text = data.get("text").trim().toUpperCase();
  if (text) {
    out.set(data.get("mode"), text);
    if (data.get("mode") === "fuzzy") out.set("max_distance", data.get("max_distance"));
  }
  if (data.get("camera_id")) out.set("camera_id", data.get("camera_id"));
  // datetime-local has no zone: read it as the browser's local time and send UTC, which the API expects.
  for (const key of ["since", "until"]) {
    if (data.get(key)) out.set(key, new Date(data.get(key)).toISOString());
  }
  if (data.get("min_confidence") !== "") out.set("min_confidence", data.get("min_confidence"));
  return out;
}

function candidates(read) {
  const others = (read.candidates || []).filter((c) => c.plate !== read.plate).slice(0, 3);
  return others.length ? others.map((c) => `${c.plate} ${formatConfidence(c.confidence)}`).join(", ") : "—";
}

function row(read) {
  const cell = h("td", { class: "crop-cell" });
  if (read.crop_url) {
    const img = h("img", { class: "crop", alt: `plate ${read.plate}`, width: 120, height: 36, "data-src": read.crop_url });
    imageUrl(read.crop_url).then((url) => (img.src = url), () => img.remove());
    cell.append(img);
  }
  return h("tr", {},
    cell,
    h("th", { scope: "row", class: "plate", text: read.plate }),
    h("td", {}, h("span", { class: `conf ${confidenceLevel(read.confidence)}`, text: formatConfidence(read.confidence) })),
    h("td", { text: read.job_id ? "video " + read.job_id.slice(0, 8) : cameraName(read.camera_id) }),
    h("td", {}, h("time", { datetime: read.captured_at, text: formatTime(read.captured_at) })),
    h("td", { class: "hint", text: candidates(read) }));
}

async function load(form) {
  const errorEl = $("#search-error");
  showError(errorEl, null);
  const url = new URLSearchParams(query);
  if (cursor) url.set("cursor", cursor);
  try {
    const page = await busy(form, () => request("/v1/reads?" + url));
    const body = $("#search-table tbody");
    body.append(...page.items.map(row));
    shown += page.items.length;
    cursor = page.next_cursor;
    $("#search-table").hidden = shown === 0;
    $("#search-more").hidden = !cursor;
    $("#search-summary").textContent = shown === 0 ? "No reads match."
      : `${shown} read${shown === 1 ? "" : "s"}${cursor ? " so far" : ""}.`;
  } catch (error) {
    showError(errorEl, error);
  }
}

function submit(event) {
  event.preventDefault();
  const form = event.target;
  const body = $("#search-table tbody");
  body.querySelectorAll("img[data-src]").forEach((img) => releaseImage(img.dataset.src));
  body.replaceChildren();
  query = params(form).toString();
  cursor = null;
  shown = 0;
  return load(form);
}

export function init() {
  const form = $("#search-form");
  form.addEventListener("submit", submit);
  $("#search-more").addEventListener("click", () => load(form));
  $("#s-mode").addEventListener("change", (e) => ($("#s-distance-field").hidden = e.target.value !== "fuzzy"));
}
