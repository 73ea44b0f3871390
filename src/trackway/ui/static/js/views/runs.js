// #/experiments/<id>?filter=<search language>&order=<clause>&cols=m:loss,p:lr,t:team
// An experiment's runs: a virtual table with chosen param, metric and tag columns, a filter
// box whose errors come from the server, sorting by column header (server-side, so it is
// exact across every run), and selection for compare and charts. The first page is drawn
// as soon as it arrives; the rest stream in behind it, page by page.

import * as api from "../api.js";
import { h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { chartLink, compareLink, runLink } from "../nav.js";
import { VirtualRows } from "../vtable.js";

const FIRST_PAGE = 300;
const NEXT_PAGE = 2500;
const MAX_LOADED = 100000;
const KIND_PREFIX = { m: "metrics", p: "params", t: "tags" };
const KIND_LABEL = { metrics: "metric", params: "param", tags: "tag" };
const DEFAULT_PER_KIND = 6;

// Fixed columns: [id, header, width, sort field or "", cell(run)].
const FIXED = [
  ["name", "Run", 230, "attributes.run_name"],
  ["status", "Status", 100, "attributes.status"],
  ["start", "Started", 175, "attributes.start_time"],
  ["duration", "Duration", 90, ""],
  ["user", "User", 110, "attributes.user_id"],
];

/** A run from the API, flattened for the table. */
function flatten(run) {
  const metrics = {};
  for (const m of run.data.metrics || []) metrics[m.key] = m.value;
  const params = {};
  for (const p of run.data.params || []) params[p.key] = p.value;
  const tags = {};
  for (const t of run.data.tags || []) tags[t.key] = t.value;
  return { id: run.info.run_id, info: run.info, metrics, params, tags };
}

export function parseColumns(text) {
  const out = [];
  for (const part of (text || "").split(",")) {
    const m = part.match(/^([mpt]):(.+)$/);
    if (m) out.push({ kind: KIND_PREFIX[m[1]], key: decodeURIComponent(m[2]) });
  }
  return out;
}

function columnsText(columns) {
  return columns.map((c) => `${c.kind[0]}:${encodeURIComponent(c.key)}`).join(",");
}

/** "metrics.`loss` DESC" -> {field: "metrics.`loss`", descending: true}. */
function parseOrder(text) {
  const m = (text || "").match(/^(.*?)(?:\s+(ASC|DESC))?$/i);
  return m && m[1] ? { field: m[1], descending: (m[2] || "").toUpperCase() === "DESC" } : null;
}

export async function render(main, ctx) {
  const experimentId = ctx.args[0];
  const state = {
    filter: ctx.query.get("filter") || "",
    order: parseOrder(ctx.query.get("order")),
    columns: parseColumns(ctx.query.get("cols")),
    columnsChosen: ctx.query.has("cols"),
    runs: [],
    keys: { metrics: new Set(), params: new Set(), tags: new Set() },
    selected: new Set(),
    lastClicked: -1,
    generation: 0,
    complete: false,
  };

  const experiment = await api.getExperiment(experimentId);
  if (!ctx.alive()) return undefined;

  // Toolbar: filter, columns, selection actions.
  const filterInput = h("input", {
    type: "search",
    id: "run-filter",
    value: state.filter,
    spellcheck: "false",
    placeholder: "metrics.loss < 0.5 AND params.lr = '0.01'",
    "aria-label": "Filter runs (search language)",
    "aria-describedby": "filter-error",
  });
  const filterError = h("div", { class: "filter-error", id: "filter-error", role: "alert" });
  const filterForm = h(
    "form",
    { class: "filter-form", role: "search", onsubmit: (e) => { e.preventDefault(); applyFilter(); } },
    filterInput,
    h("button", { type: "submit", text: "Filter" }),
    h("button", { type: "button", text: "Clear", onclick: () => { filterInput.value = ""; applyFilter(); } }),
  );
  const compareButton = h("button", { type: "button", id: "compare-selected", disabled: true, onclick: () => (location.hash = compareLink([...state.selected])) });
  const chartButton = h("button", { type: "button", id: "chart-selected", disabled: true, onclick: openChart });
  const columnsMenu = h("details", { class: "menu" }, h("summary", { text: "Columns" }), h("div", { class: "menu-body" }));
  const status = h("span", { id: "runs-status", "aria-live": "polite" });

  // The table.
  const colgroup = h("colgroup");
  const headRow = h("tr");
  const tbody = h("tbody");
  const table = h("table", { id: "runs-table", "aria-label": `Runs of ${experiment.name}`, "aria-rowcount": 0 }, colgroup, h("thead", null, headRow), tbody);
  const scroller = h("div", { class: "vtable", tabindex: "-1" }, table);
  const rows = new VirtualRows(scroller, tbody, renderRow, 1);

  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: "#/experiments", text: "Experiments" }), " / "),
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", { text: experiment.name }), h("span", { class: "muted" }, `Experiment ${experiment.experiment_id}`, experiment.lifecycle_stage === "deleted" ? " (deleted)" : "")),
      h("div", { class: "actions" }, compareButton, chartButton, columnsMenu),
    ),
    h("div", { class: "toolbar" }, filterForm),
    filterError,
    scroller,
    h("div", { class: "table-foot" }, status, h("span", { class: "muted", text: "Click a header to sort; shift-click a checkbox to select a range." })),
  );

  function applyFilter() {
    state.filter = filterInput.value.trim();
    ctx.setQuery({ filter: state.filter });
    load();
  }

  function sortBy(field) {
    const same = state.order && state.order.field === field;
    state.order = { field, descending: same ? !state.order.descending : false };
    ctx.setQuery({ order: `${field} ${state.order.descending ? "DESC" : "ASC"}` });
    load();
  }

  function columnField(c) {
    return api.field(c.kind, c.key);
  }

  function header(label, field, width, extra) {
    const th = h("th", { scope: "col", title: label });
    if (state.order && field && state.order.field === field) th.setAttribute("aria-sort", state.order.descending ? "descending" : "ascending");
    const arrow = state.order && field && state.order.field === field ? (state.order.descending ? " ▼" : " ▲") : "";
    if (field) {
      th.appendChild(h("button", { type: "button", class: "sort", "data-sort": field, onclick: () => sortBy(field) }, extra, h("span", { class: "key", text: label }), arrow));
    } else {
      th.append(label);
    }
    colgroup.appendChild(h("col", { style: { width: `${width}px` } }));
    return th;
  }

  function drawHeader() {
    colgroup.replaceChildren();
    const all = h("input", {
      type: "checkbox",
      "aria-label": "Select all loaded runs",
      checked: state.runs.length > 0 && state.selected.size === state.runs.length,
      onchange: (e) => {
        state.selected = e.target.checked ? new Set(state.runs.map((r) => r.id)) : new Set();
        selectionChanged();
      },
    });
    colgroup.appendChild(h("col", { style: { width: "38px" } }));
    const cells = [h("th", { scope: "col" }, all)];
    for (const [, label, width, field] of FIXED) cells.push(header(label, field, width));
    for (const c of state.columns) cells.push(header(c.key, columnField(c), 140, h("span", { class: "kind", text: `${KIND_LABEL[c.kind]} ` })));
    headRow.replaceChildren(...cells);
    const width = 38 + FIXED.reduce((s, f) => s + f[2], 0) + state.columns.length * 140;
    table.style.width = `${width}px`;
    rows.setColumns(cells.length);
  }

  function renderRow(run, index) {
    const info = run.info;
    const box = h("input", { type: "checkbox", checked: state.selected.has(run.id), "aria-label": `Select ${fmt.runName(info)}`, dataset: { focusKey: `c${run.id}` } });
    box.addEventListener("click", (e) => toggle(run, index, e.shiftKey));
    const cells = [
      h("td", null, box),
      h("td", { title: info.run_name }, h("a", { href: runLink(run.id), text: fmt.runName(info), dataset: { focusKey: `a${run.id}` } })),
      h("td", null, h("span", { class: `status ${info.status}`, text: info.status })),
      h("td", { text: fmt.time(info.start_time) }),
      h("td", { class: "num", text: fmt.runDuration(info) }),
      h("td", { text: info.user_id || "" }),
    ];
    for (const c of state.columns) {
      const value = run[c.kind][c.key];
      const text = c.kind === "metrics" ? fmt.number(value) : value === undefined ? "" : value;
      cells.push(h("td", { class: c.kind === "metrics" ? "num" : undefined, title: text, text }));
    }
    return h("tr", { class: state.selected.has(run.id) ? "selected" : undefined, dataset: { runId: run.id }, "aria-rowindex": index + 2 }, cells);
  }

  function toggle(run, index, shift) {
    const on = !state.selected.has(run.id);
    if (shift && state.lastClicked >= 0) {
      const [a, b] = [Math.min(index, state.lastClicked), Math.max(index, state.lastClicked)];
      for (let i = a; i <= b; i += 1) {
        if (on) state.selected.add(state.runs[i].id);
        else state.selected.delete(state.runs[i].id);
      }
    } else if (on) state.selected.add(run.id);
    else state.selected.delete(run.id);
    state.lastClicked = index;
    selectionChanged();
  }

  function selectionChanged() {
    const n = state.selected.size;
    compareButton.textContent = `Compare (${n})`;
    compareButton.disabled = n < 2;
    chartButton.textContent = `Chart (${n})`;
    chartButton.disabled = n < 1;
    drawHeader();
    rows.refresh();
  }

  function openChart() {
    const ids = [...state.selected];
    const chosen = state.columns.find((c) => c.kind === "metrics");
    let metric = chosen ? chosen.key : "";
    if (!metric) {
      const run = state.runs.find((r) => r.id === ids[0]);
      metric = run ? Object.keys(run.metrics).sort()[0] || "" : "";
    }
    location.hash = chartLink(ids, metric);
  }

  function noteKeys(batch) {
    for (const run of batch) {
      for (const kind of ["metrics", "params", "tags"]) for (const key in run[kind]) state.keys[kind].add(key);
    }
  }

  function defaultColumns() {
    const pick = (kind) => [...state.keys[kind]].sort().slice(0, DEFAULT_PER_KIND).map((key) => ({ kind, key }));
    return [...pick("metrics"), ...pick("params")];
  }

  function drawColumnsMenu() {
    const bodyEl = columnsMenu.querySelector(".menu-body");
    const find = h("input", { type: "search", placeholder: "Find a key", "aria-label": "Find a column" });
    const groups = [];
    for (const kind of ["metrics", "params", "tags"]) {
      const keys = [...state.keys[kind]].sort();
      const boxes = keys.map((key) => {
        const on = state.columns.some((c) => c.kind === kind && c.key === key);
        const box = h("input", { type: "checkbox", checked: on, value: key });
        box.addEventListener("change", () => {
          state.columns = box.checked ? [...state.columns, { kind, key }] : state.columns.filter((c) => !(c.kind === kind && c.key === key));
          state.columnsChosen = true;
          ctx.setQuery({ cols: columnsText(state.columns) });
          drawHeader();
          rows.refresh();
        });
        return h("label", { dataset: { key: key.toLowerCase() } }, box, key);
      });
      groups.push(h("fieldset", null, h("legend", { text: `${kind[0].toUpperCase()}${kind.slice(1)} (${keys.length})` }), boxes.length ? boxes : h("span", { class: "muted", text: "none" })));
    }
    find.addEventListener("input", () => {
      const text = find.value.toLowerCase();
      for (const label of bodyEl.querySelectorAll("label[data-key]")) label.hidden = !label.dataset.key.includes(text);
    });
    replace(bodyEl, find, groups);
  }
  columnsMenu.addEventListener("toggle", () => {
    if (columnsMenu.open) drawColumnsMenu();
  });

  async function load() {
    const generation = ++state.generation;
    const started = performance.now();
    const current = () => generation === state.generation && ctx.alive();
    state.complete = false;
    main.dataset.state = "loading";
    status.textContent = "Loading runs…";
    filterError.textContent = "";
    filterInput.removeAttribute("aria-invalid");
    const orderBy = state.order ? [`${state.order.field} ${state.order.descending ? "DESC" : "ASC"}`] : [];
    let token = "";
    let first = true;
    let loaded = [];
    try {
      do {
        const page = await api.searchRuns({
          experimentIds: [experimentId],
          filter: state.filter,
          orderBy,
          maxResults: first ? FIRST_PAGE : NEXT_PAGE,
          pageToken: token,
          signal: ctx.signal,
        });
        if (!current()) return;
        const batch = (page.runs || []).map(flatten);
        noteKeys(batch);
        loaded = first ? batch : loaded.concat(batch);
        state.runs = loaded;
        token = page.next_page_token || "";
        if (first) {
          if (!state.columnsChosen) state.columns = defaultColumns();
          drawHeader();
          state.selected = new Set([...state.selected].filter((id) => loaded.some((r) => r.id === id)));
          selectionChanged();
          scroller.scrollTop = 0;
        }
        rows.setItems(loaded);
        table.setAttribute("aria-rowcount", String(loaded.length + 1));
        status.textContent = token ? `${loaded.length} runs loaded, loading more…` : `${loaded.length} run${loaded.length === 1 ? "" : "s"}`;
        if (first) {
          window.trackway.timings.runsFirstPage = performance.now() - started;
          window.trackway.timings.runsFirstRender = performance.now() - ctx.started;
          main.dataset.state = "ready";
          if (!loaded.length) tbody.replaceChildren(h("tr", null, h("td", { colspan: FIXED.length + 1 + state.columns.length, class: "muted", text: state.filter ? "No run matches the filter." : "No runs in this experiment yet." })));
          first = false;
          // Let the first page paint and take input before the next request is parsed.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      } while (token && loaded.length < MAX_LOADED && current());
      if (!current()) return;
      state.complete = true;
      window.trackway.timings.runsAllLoaded = performance.now() - started;
      main.dataset.state = "complete";
    } catch (err) {
      if (err.name === "AbortError" || !current()) return;
      filterError.textContent = err.message;
      filterInput.setAttribute("aria-invalid", "true");
      status.textContent = state.runs.length ? `${state.runs.length} runs (from before the error)` : "";
      main.dataset.state = "error";
    }
  }

  await load();
  return () => rows.destroy();
}
