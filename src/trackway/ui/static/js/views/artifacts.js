// A run's artifact browser: a lazily expanded tree (one artifacts/list call per folder
// opened) and a preview of the chosen file: text, JSON (pretty), YAML, CSV/TSV (a table),
// images; anything can be downloaded. Bytes come through the server's artifact proxy.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { token } from "../token.js";

const PREVIEW_MAX_BYTES = 5 << 20;
const CSV_MAX_ROWS = 1000;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|ico|avif)$/i;
const CSV = /\.(csv|tsv)$/i;
const JSON_FILE = /\.(json|jsonl|ipynb)$/i;

export function artifactBrowser(run, ctx) {
  const runId = run.info.run_id;
  const artifactUri = run.info.artifact_uri;
  const tree = h("nav", { class: "tree", "aria-label": "Artifacts" });
  const preview = h("section", { class: "preview", id: "artifact-preview", "aria-live": "polite" }, h("p", { class: "muted", text: "Choose a file to preview it." }));
  const buttons = new Map(); // path -> button
  let current = null;

  async function listAll(path) {
    const files = [];
    let token = "";
    do {
      const page = await api.listArtifacts(runId, path, token);
      files.push(...(page.files || []));
      token = page.next_page_token || "";
    } while (token && files.length < 20000);
    files.sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
    return files;
  }

  async function folder(path) {
    const ul = h("ul", { role: path ? "group" : "tree" });
    let files;
    try {
      files = await listAll(path);
    } catch (err) {
      ul.appendChild(h("li", { class: "error", text: err.message }));
      return ul;
    }
    if (!files.length && !path) ul.appendChild(h("li", { class: "muted", text: "No artifacts." }));
    for (const file of files) ul.appendChild(entry(file));
    return ul;
  }

  function entry(file) {
    const name = file.path.split("/").pop();
    const li = h("li", { role: "treeitem" });
    if (file.is_dir) {
      const button = h("button", { type: "button", "aria-expanded": "false", dataset: { path: file.path } }, "▸ ", name);
      let children = null;
      button.addEventListener("click", async () => {
        const open = button.getAttribute("aria-expanded") === "true";
        if (open) {
          button.setAttribute("aria-expanded", "false");
          button.firstChild.textContent = "▸ ";
          if (children) children.hidden = true;
          return;
        }
        button.setAttribute("aria-expanded", "true");
        button.firstChild.textContent = "▾ ";
        if (!children) {
          children = await folder(file.path);
          li.appendChild(children);
        }
        children.hidden = false;
      });
      buttons.set(file.path, button);
      li.appendChild(button);
    } else {
      const button = h("button", { type: "button", dataset: { path: file.path }, title: `${file.path} (${fmt.bytes(file.file_size)})` }, "◦ ", name);
      button.addEventListener("click", () => show(file));
      buttons.set(file.path, button);
      li.appendChild(button);
    }
    return li;
  }

  async function show(file) {
    if (current) current.removeAttribute("aria-current");
    current = buttons.get(file.path) || null;
    if (current) current.setAttribute("aria-current", "true");
    ctx.setQuery({ tab: "artifacts", path: file.path });
    const url = api.artifactUrl(artifactUri, file.path);
    const name = file.path.split("/").pop();
    const head = h(
      "div",
      { class: "head" },
      h("strong", { class: "mono", text: file.path }),
      h("span", { class: "muted", text: fmt.bytes(file.file_size) }),
      url ? downloadLink(url, name) : h("span", { class: "muted", text: "(stored outside the server's artifact proxy)" }),
    );
    replace(preview, head, h("p", { class: "muted", text: "Loading…" }));
    preview.dataset.state = "loading";
    if (!url) {
      replace(preview, head);
      return;
    }
    try {
      replace(preview, head, await body(file, url));
      preview.dataset.state = "shown";
    } catch (err) {
      replace(preview, head, h("p", { class: "error", text: `Cannot preview: ${err.message}` }));
      preview.dataset.state = "error";
    }
  }

  async function body(file, url) {
    if (IMAGE.test(file.path)) {
      if (!token()) return h("img", { src: url, alt: file.path, loading: "lazy" });
      // An <img> request carries no Authorization header: fetch the bytes (the wrapped
      // fetch adds the token) and show them from a blob URL.
      const response = await fetch(url, { signal: ctx.signal });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const src = URL.createObjectURL(await response.blob());
      const img = h("img", { alt: file.path });
      img.src = src; // our own blob: URL, which h() would refuse as it refuses any scheme
      img.addEventListener("load", () => URL.revokeObjectURL(src), { once: true });
      return img;
    }
    if (Number(file.file_size || 0) > PREVIEW_MAX_BYTES) {
      return h("p", { class: "muted", text: `Too large to preview (${fmt.bytes(file.file_size)}); download it instead.` });
    }
    const response = await fetch(url, { signal: ctx.signal });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (looksBinary(bytes)) return h("p", { class: "muted", text: "A binary file: download it to open it." });
    const text = new TextDecoder().decode(bytes);
    if (JSON_FILE.test(file.path) && !file.path.endsWith(".jsonl")) {
      try {
        return h("pre", { class: "json" }, h("code", { text: JSON.stringify(JSON.parse(text), null, 2) }));
      } catch {
        /* not valid JSON: shown as text */
      }
    }
    if (CSV.test(file.path)) return csvTable(text, file.path.toLowerCase().endsWith(".tsv") ? "\t" : ",");
    return h("pre", null, h("code", { text }));
  }

  async function start() {
    const root = await folder("");
    tree.replaceChildren(root);
    const wanted = ctx.query.get("path");
    if (!wanted) return;
    // Open the folders on the way to the file named in the URL, then preview it.
    const parts = wanted.split("/");
    for (let i = 1; i < parts.length; i += 1) {
      const button = buttons.get(parts.slice(0, i).join("/"));
      if (!button) return;
      if (button.getAttribute("aria-expanded") !== "true") {
        button.click();
        await waitFor(() => buttons.has(parts.slice(0, i + 1).join("/")));
      }
    }
    if (buttons.has(wanted)) buttons.get(wanted).click();
  }

  start();
  return h("div", { class: "artifacts" }, tree, preview);
}

function waitFor(test, timeout = 5000) {
  return new Promise((resolve) => {
    const started = performance.now();
    const poll = () => (test() || performance.now() - started > timeout ? resolve() : setTimeout(poll, 20));
    poll();
  });
}

function looksBinary(bytes) {
  const n = Math.min(bytes.length, 8192);
  for (let i = 0; i < n; i += 1) if (bytes[i] === 0) return true;
  return false;
}

/** Parses CSV (RFC 4180 quoting) into rows, stopping after `limit` rows. */
export function parseCsv(text, separator = ",", limit = CSV_MAX_ROWS + 1) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 1;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === separator) {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      if (rows.length >= limit) return rows;
    } else cell += ch;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function csvTable(text, separator) {
  const rows = parseCsv(text, separator);
  if (!rows.length) return h("p", { class: "muted", text: "Empty file." });
  const [head, ...rest] = rows;
  const shown = rest.slice(0, CSV_MAX_ROWS);
  return h(
    "div",
    null,
    h(
      "table",
      { class: "grid csv" },
      h("thead", null, h("tr", null, head.map((c) => h("th", { text: c })))),
      h("tbody", null, shown.map((r) => h("tr", null, r.map((c) => h("td", { text: c }))))),
    ),
    rest.length > CSV_MAX_ROWS ? h("p", { class: "muted", text: `First ${CSV_MAX_ROWS} rows shown.` }) : null,
  );
}

// A plain link streams the file to disk; with a token set, a link cannot send it, so the
// click fetches the file (the wrapped fetch adds the token) and saves it from a blob URL.
function downloadLink(url, name) {
  const link = h("a", { class: "button", href: url, download: name, text: "Download" });
  link.addEventListener("click", async (event) => {
    if (!token()) return;
    event.preventDefault();
    const response = await fetch(url);
    if (!response.ok) {
      link.textContent = `Download failed: ${response.status}`;
      return;
    }
    const blobUrl = URL.createObjectURL(await response.blob());
    const save = h("a", { download: name });
    save.href = blobUrl; // our own blob: URL (see the image preview above)
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(blobUrl), 10_000);
  });
  return link;
}
