// The API token of a server that asks for one (`trackway server --auth token`): kept in
// sessionStorage (gone when the tab closes, never sent to another origin) and sent as
// `Authorization: Bearer <token>` with the UI's requests. A small box below the top bar
// takes it, opened from the key button or when the server answers 401.

import { h } from "./dom.js";

const KEY = "trackway.token";

export function token() {
  try {
    return sessionStorage.getItem(KEY) || "";
  } catch {
    return "";
  }
}

function store(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage is off: the token lasts until the page reloads */
  }
}

/** Adds the Authorization header to `headers` (a plain object) when a token is set. */
export function authorize(headers) {
  const value = token();
  if (value && !headers.authorization) headers.authorization = `Bearer ${value}`;
  return headers;
}

// Views fetch artifact files themselves (previews): same-origin requests get the token
// too. Requests to other origins never do.
const nativeFetch = window.fetch.bind(window);
window.fetch = (input, init = {}) => {
  const url = new URL(typeof input === "string" ? input : input.url, location.href);
  if (url.origin !== location.origin || !token()) return nativeFetch(input, init);
  const headers = new Headers(init.headers || (typeof input === "string" ? undefined : input.headers));
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token()}`);
  return nativeFetch(input, { ...init, headers });
};

let box = null;

function button() {
  return document.getElementById("token-toggle");
}

function close() {
  if (box) box.remove();
  box = null;
  const toggle = button();
  if (toggle) toggle.setAttribute("aria-expanded", "false");
}

/** Opens the token box, with `message` (why) when given. */
export function ask(message = "") {
  if (box) {
    box.querySelector("[data-role=message]").textContent = message;
    return;
  }
  const input = h("input", {
    type: "password",
    id: "token-input",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "tw_…",
    style: { minWidth: "22rem" },
  });
  box = h(
    "form",
    {
      class: "token-box",
      "aria-label": "API token",
      style: { display: "flex", gap: "0.5rem", alignItems: "center", flexWrap: "wrap", padding: "0.6rem 1rem" },
      onsubmit: (event) => {
        event.preventDefault();
        store(input.value.trim());
        location.reload();
      },
    },
    h("label", { for: "token-input", text: "API token" }),
    input,
    h("button", { type: "submit", class: "primary", text: "Use token" }),
    h("button", {
      type: "button",
      text: "Forget token",
      onclick: () => {
        store("");
        location.reload();
      },
    }),
    h("span", { class: "muted", "data-role": "message", text: message }),
  );
  const bar = document.querySelector(".topbar");
  if (bar) bar.after(box);
  else document.body.prepend(box);
  const toggle = button();
  if (toggle) toggle.setAttribute("aria-expanded", "true");
  input.focus();
}

function setup() {
  const bar = document.querySelector(".topbar");
  if (!bar || button()) return;
  const toggle = h(
    "button",
    {
      id: "token-toggle",
      type: "button",
      class: "icon-button",
      title: token() ? "API token (set)" : "API token",
      "aria-expanded": "false",
      onclick: () => (box ? close() : ask()),
    },
    h("span", { "aria-hidden": "true", text: token() ? "🔑" : "🔒" }),
    h("span", { class: "sr-only", text: "API token" }),
  );
  const theme = document.getElementById("theme-toggle");
  if (theme) theme.before(toggle);
  else bar.append(toggle);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
else setup();
