// The UI's entry point: hash routing (every view has a URL that can be pasted into chat),
// the theme toggle, and the timings that the end-to-end tests read.

import { h, replace, toast } from "./dom.js";
import { ApiError } from "./api.js";
import * as experiments from "./views/experiments.js";
import * as runs from "./views/runs.js";
import * as run from "./views/run.js";
import * as compare from "./views/compare.js";
import * as charts from "./views/charts.js";
import * as models from "./views/models.js";

// [pattern, view]; a pattern's (groups) are URL-decoded and passed as `ctx.args`.
const ROUTES = [
  [/^\/experiments\/?$/, experiments],
  [/^\/experiments\/([^/]+)\/?$/, runs],
  [/^\/runs\/([^/]+)\/?$/, run],
  [/^\/compare\/?$/, compare],
  [/^\/charts\/?$/, charts],
  [/^\/models\/?$/, models],
  [/^\/models\/([^/]+)\/?$/, models],
  [/^\/models\/([^/]+)\/versions\/([^/]+)\/?$/, models],
];

// Measurements of the last renders, read by the tests: {name: milliseconds}.
window.trackway = { timings: {} };

let current = null; // {controller, cleanup}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/experiments";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  return { path, query };
}

async function route() {
  const started = performance.now();
  const { path, query } = parseHash();
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === "function") current.cleanup();
  }
  const controller = new AbortController();
  current = { controller, cleanup: null };
  const main = document.getElementById("main");
  for (const a of document.querySelectorAll("[data-nav]")) {
    const active = path.startsWith(`/${a.dataset.nav}`) || (a.dataset.nav === "experiments" && /^\/(runs|compare|charts)/.test(path));
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let view = null;
  let args = [];
  for (const [pattern, candidate] of ROUTES) {
    const m = path.match(pattern);
    if (m) {
      view = candidate;
      args = m.slice(1).map(decodeURIComponent);
      break;
    }
  }
  if (!view) {
    replace(main, h("h1", { text: "Not found" }), h("p", null, "No page at ", h("code", { text: path }), ". ", h("a", { href: "#/experiments", text: "Experiments" })));
    return;
  }
  const ctx = {
    args,
    query,
    path,
    signal: controller.signal,
    started,
    alive: () => current && current.controller === controller && !controller.signal.aborted,
    /** Rewrites the URL's query without re-rendering (filter typed, tab chosen, ...). */
    setQuery(values) {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined || value === null || value === "") query.delete(key);
        else query.set(key, String(value));
      }
      const text = query.toString();
      history.replaceState(null, "", `#${path}${text ? "?" + text : ""}`);
    },
  };
  main.replaceChildren();
  try {
    current.cleanup = await view.render(main, ctx);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (!ctx.alive()) return;
    showError(main, err);
  }
}

export function showError(main, err) {
  const text = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err && err.message ? err.message : err);
  replace(main, h("h1", { text: "Something went wrong" }), h("p", { class: "error", role: "alert", text }), h("p", null, h("a", { href: "#/experiments", text: "Back to experiments" })));
  console.error(err);
}

function setupTheme() {
  const button = document.getElementById("theme-toggle");
  const dark = () => {
    const chosen = document.documentElement.dataset.theme;
    return chosen ? chosen === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  };
  const changed = () => {
    button.setAttribute("aria-pressed", String(dark()));
    window.dispatchEvent(new Event("themechange"));
  };
  button.addEventListener("click", () => {
    const next = dark() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("trackway.theme", next);
    } catch {
      /* not saved: the choice lasts for this page */
    }
    changed();
    toast(`${next[0].toUpperCase()}${next.slice(1)} theme`);
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", changed);
  button.setAttribute("aria-pressed", String(dark()));
}

setupTheme();
window.addEventListener("hashchange", route);
if (!location.hash || location.hash === "#" || location.hash === "#/") history.replaceState(null, "", "#/experiments");
route();
