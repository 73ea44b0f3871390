// Building DOM safely: every string becomes a text node or an attribute value, never
// markup. Nothing in the UI assigns innerHTML, so user data (run names, params, tags,
// notes, artifact contents) cannot inject elements or script.

/**
 * h("a", {href: "#/x", class: "c", onclick: fn}, "text", child, [more])
 * Attributes: `class`, `text`, `dataset` (object), `style` (object), `on<event>`
 * (listener), booleans (set when true), anything else through setAttribute.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = String(value);
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name === "style") Object.assign(el.style, value);
      else if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "value" && "value" in el) el.value = value;
      else if (name === "checked" || name === "selected" || name === "disabled") el[name] = !!value;
      else if (name === "href" || name === "src") el.setAttribute(name, safeUrl(String(value)));
      else el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Links may be relative, http(s) or mailto; anything else (javascript:, data:) is dropped. */
export function safeUrl(url) {
  const trimmed = url.trim();
  if (/^(https?:|mailto:)/i.test(trimmed)) return trimmed;
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) return "#";
  return trimmed;
}

let toastTimer = 0;
/** A short message at the bottom of the page, read out by screen readers. */
export function toast(message, bad = false) {
  const box = document.getElementById("toast");
  if (!box) return;
  replace(box, h("div", { class: bad ? "msg bad" : "msg", text: message }));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.replaceChildren(), bad ? 8000 : 3000);
}

/**
 * A modal dialog with a form; resolves with the form's values (FormData entries) on
 * submit, or null on cancel. `fields` are elements placed above the buttons.
 */
export function dialog(title, fields, submitLabel, { danger = false } = {}) {
  return new Promise((resolve) => {
    const cancel = h("button", { type: "button", text: "Cancel" });
    const submit = h("button", {
      type: "submit",
      class: danger ? "primary danger" : "primary",
      text: submitLabel,
    });
    const form = h("form", { method: "dialog" }, h("h2", { text: title }), fields, h("div", { class: "buttons" }, cancel, submit));
    const dlg = h("dialog", { "aria-label": title }, form);
    let result = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      result = Object.fromEntries(new FormData(form).entries());
      dlg.close();
    });
    cancel.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = form.querySelector("input, textarea, select");
    (first || submit).focus();
  });
}

/** Colour of the i-th run in charts: distinct hues, tuned for the current theme. */
export function runColor(i) {
  const palette = [
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
    "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#7f7f7f",
  ];
  if (i < palette.length) return palette[i];
  const hue = (i * 137.508) % 360;
  return `hsl(${hue.toFixed(0)} 62% 55%)`;
}

/** Reads a CSS variable of the current theme (charts draw with these). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
