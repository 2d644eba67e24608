// Recognize panel: POST /v1/recognize with one image, then draw the image with each plate's box (canvas)
// and list the plates with their candidates.

import { request } from "./api.js";
import { $, h, busy, confidenceLevel, formatConfidence, showError } from "./dom.js";

const MAX_CANVAS = 1600;  // big photos are drawn scaled down; boxes are in the image's own pixels

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => resolve(img);  // the caller revokes the URL once drawn
    img.onerror = () => reject(new Error("the browser cannot display this image"));
    img.src = url;
  });
}

function draw(canvas, img, body) {
  // The server reports the size it decoded (EXIF rotation applied); scale its boxes to what we draw.
  const width = body.img_width || img.naturalWidth;
  const height = body.img_height || img.naturalHeight;
  const scale = Math.min(1, MAX_CANVAS / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const line = Math.max(2, Math.round(canvas.width / 400));
  const fontSize = Math.max(14, Math.round(canvas.width / 45));
  ctx.font = `600 ${fontSize}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  body.results.forEach((plate, i) => {
    const { x, y, width: w, height: hh } = plate.box;
    const [bx, by, bw, bh] = [x * scale, y * scale, w * scale, hh * scale];
    ctx.lineWidth = line;
    ctx.strokeStyle = "#22c55e";
    ctx.strokeRect(bx, by, bw, bh);
    const label = `${i + 1}. ${plate.plate}`;
    const pad = line * 2;
    const tw = ctx.measureText(label).width + pad * 2;
    const th = fontSize + pad;
    const ty = by - th < 0 ? by + bh + th : by;  // label above the box, or below when at the top edge
    ctx.fillStyle = "#22c55e";
    ctx.fillRect(bx - line / 2, ty - th, tw, th);
    ctx.fillStyle = "#052e16";
    ctx.fillText(label, bx + pad - line / 2, ty - pad / 2);
  });
  const names = body.results.map((p) => p.plate).join(", ");
  canvas.setAttribute("aria-label", body.results.length ? `The image with plates ${names} boxed` : "The image; no plate found");
}

function plateItem(plate, i) {
  return h("li", { class: "plate-card" },
    h("div", { class: "plate-head" },
      h("span", { class: "index", text: `${i + 1}.` }),
      h("span", { class: "plate", text: plate.plate }),
      h("span", { class: `conf ${confidenceLevel(plate.confidence)}`, text: formatConfidence(plate.confidence) })),
    h("p", { class: "hint", text: `detection ${formatConfidence(plate.detection_confidence)}` +
      (plate.region && plate.region !== "generic" ? `, region ${plate.region}` : "") +
      (plate.matches_template ? ", matches a plate format" : "") }),
    h("table", { class: "candidates" },
      h("caption", { class: "visually-hidden", text: `Candidates for plate ${i + 1}` }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Candidate" }), h("th", { scope: "col", text: "Confidence" }))),
      h("tbody", {}, plate.candidates.map((c) => h("tr", {},
        h("td", { class: "mono", text: c.plate + (c.matches_template ? " ✓" : "") }),
        h("td", { class: "num", text: formatConfidence(c.confidence) }))))));
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const file = $("#r-file").files[0];
  const errorEl = $("#recognize-error");
  showError(errorEl, null);
  if (!file) return form.reportValidity();
  const data = new FormData();
  data.append("file", file, file.name);
  $("#r-submit").textContent = "Reading…";
  try {
    const body = await busy(form, () => request("/v1/recognize", { method: "POST", body: data }));
    const count = body.results.length;
    $("#r-summary").textContent =
      `${count} plate${count === 1 ? "" : "s"} · ${body.img_width}×${body.img_height} · ${Math.round(body.processing_time_ms)} ms`;
    $("#r-plates").replaceChildren(...body.results.map(plateItem));
    if (!count) $("#r-plates").append(h("li", { class: "hint", text: "No plate found in this image." }));
    $("#recognize-result").hidden = false;
    try {
      const img = await loadImage(file);
      $("#r-canvas").hidden = false;
      draw($("#r-canvas"), img, body);
      URL.revokeObjectURL(img.src);
    } catch {
      $("#r-canvas").hidden = true;  // the server read it, the browser cannot show it (TIFF, say)
    }
  } catch (error) {
    $("#recognize-result").hidden = true;
    showError(errorEl, error);
  } finally {
    $("#r-submit").textContent = "Recognize";
  }
}

export function init() {
  $("#recognize-form").addEventListener("submit", submit);
}
