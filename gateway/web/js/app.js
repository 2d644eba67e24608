// Entry point: tabs, the API token dialog, and start-up of each panel.

import { onUnauthorized, request, token } from "./api.js";
import * as cameras from "./cameras.js";
import { $, busy, showError } from "./dom.js";
import * as live from "./live.js";
import * as recognize from "./recognize.js";
import * as search from "./search.js";

const tabs = () => [...document.querySelectorAll('[role="tab"]')];

function selectTab(tab, focus = false) {
  for (const other of tabs()) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;  // roving tabindex: Tab enters the tab list once, arrows move inside
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  cameras.setVisible(tab.id === "tab-cameras");
  history.replaceState(null, "", "#" + tab.id.slice(4));
}

function initTabs() {
  const list = $("#tabs");
  list.addEventListener("click", (e) => e.target.closest('[role="tab"]') && selectTab(e.target.closest('[role="tab"]')));
  list.addEventListener("keydown", (e) => {
    const all = tabs();
    const i = all.indexOf(document.activeElement);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: all.length - 1 }[e.key];
    if (next === undefined || i < 0) return;
    e.preventDefault();
    selectTab(all[(next + all.length) % all.length], true);
  });
  // The hash names the tab (#cameras), so a panel can be bookmarked or linked to.
  const fromHash = () => {
    const tab = document.getElementById("tab-" + location.hash.slice(1));
    selectTab(tab && tab.getAttribute("role") === "tab" ? tab : tabs()[0]);
  };
  window.addEventListener("hashchange", fromHash);
  fromHash();
}

function banner(message) {
  const el = $("#banner");
  el.hidden = !message;
  el.textContent = message || "";
}

function askToken(message) {
  const dialog = $("#token-dialog");
  showError($("#token-error"), message ? { message } : null);
  if (!dialog.open) {
    $("#token-input").value = token.get();
    dialog.showModal();
  }
  $("#token-input").select();  // after a refusal the typed token stays, selected, to fix or replace
}

// Load what needs the token; a refused token opens the dialog (through onUnauthorized).
async function start() {
  if (!token.get()) {
    banner("Enter the API token to use the service.");
    return askToken();
  }
  try {
    await cameras.refresh();
    banner(null);
    live.connect();
  } catch (error) {
    if (error.status !== 401) banner(`Cannot load the cameras: ${error.message}`);
  }
}

async function saveToken(event) {
  event.preventDefault();  // the dialog closes only once the server accepts the token
  const value = $("#token-input").value.trim();
  if (!value) return askToken("Enter a token.");
  try {
    // Check the token before keeping it, so a typo is caught here rather than in every panel.
    await busy(event.target, () => request("/v1/cameras", { authToken: value }));
  } catch (error) {
    const message = error.status === 401
      ? `The server rejected this token (${error.message}). Check data/api_token or PLATESTREAM_API_TOKEN.`
      : `Cannot check the token: ${error.message}`;
    return askToken(message);
  }
  token.set(value);
  $("#token-dialog").close();
  await start();
}

function initToken() {
  $("#token-form").addEventListener("submit", saveToken);
  $("#token-change").addEventListener("click", () => askToken());
  $("#token-forget").addEventListener("click", () => {
    token.clear();
    $("#token-input").value = "";
    live.stop("no token");
    banner("Enter the API token to use the service.");
    askToken();
  });
  onUnauthorized((error) => {
    live.stop("token rejected");
    banner(`The API token was rejected: ${error.message}.`);
    askToken(`The server rejected the saved token (${error.message}). Enter the current one.`);
  });
}

cameras.init();
live.init();
search.init();
recognize.init();
initTabs();
initToken();
start();
