// Small DOM helpers. Data from the API is only ever set as text or attributes, never as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function showError(el, error) {
  if (!error) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  el.textContent = error.message;
  el.dataset.code = error.code || "";  // the API's error code, for tests and the curious; the message says it all
  el.hidden = false;
}

export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export const formatConfidence = (value) => (value === null || value === undefined ? "—" : value.toFixed(1) + "%");

// Confidence as a level, so the colour of a badge carries meaning (the number is always shown too).
export const confidenceLevel = (value) => (value >= 85 ? "high" : value >= 60 ? "mid" : "low");

// Disable a form's submit button while a request runs, so a double click does not post twice.
export async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute("aria-busy");
  }
}
