// #/compare?runs=a,b,c&x=p:lr&y=m:loss&axes=p:lr,p:depth,m:loss
// Two or more runs side by side: their params and latest metrics in a diff view (rows
// whose values differ are marked, and can be shown alone), a scatter of one field against
// another, and parallel coordinates across the fields chosen.

import * as api from "../api.js";
import { h, replace, runColor } from "../dom.js";
import * as fmt from "../format.js";
import { chartLink, experimentLink, runLink } from "../nav.js";
import { parallel, scatter } from "../charts/plots.js";

const KIND = { p: "params", m: "metrics" };

function fieldId(kind, key) {
  return `${kind[0]}:${key}`;
}

function parseField(text) {
  const m = (text || "").match(/^([pm]):(.+)$/);
  return m ? { kind: KIND[m[1]], key: m[2] } : null;
}

export async function render(main, ctx) {
  const ids = (ctx.query.get("runs") || "").split(",").filter(Boolean);
  if (ids.length < 2) {
    replace(main, h("h1", { text: "Compare runs" }), h("p", null, "Select two or more runs in an experiment's table and choose ", h("strong", { text: "Compare" }), "."));
    return undefined;
  }
  const found = await api.getRuns(ids);
  if (!ctx.alive()) return undefined;
  const runs = found.map((run, i) => ({
    run,
    id: run.info.run_id,
    name: fmt.runName(run),
    color: runColor(i),
    params: Object.fromEntries((run.data.params || []).map((p) => [p.key, p.value])),
    metrics: Object.fromEntries((run.data.metrics || []).map((m) => [m.key, m.value])),
  }));
  const missing = ids.filter((id) => !runs.some((r) => r.id === id));
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const value = (r, f) => r[f.kind][f.key];
  const differs = (kind, key) => new Set(runs.map((r) => String(r[kind][key]))).size > 1;

  const onlyDiff = h("input", { type: "checkbox", id: "only-differences", checked: ctx.query.get("all") !== "1" });
  const paramsTable = h("div");
  const metricsTable = h("div");

  function diffTable(kind, keys, id) {
    const shown = keys.filter((k) => !onlyDiff.checked || differs(kind, k));
    const hidden = keys.length - shown.length;
    return h(
      "div",
      null,
      h(
        "table",
        { class: "grid", id },
        h("thead", null, h("tr", null, h("th", { text: kind === "params" ? "Parameter" : "Metric (latest)" }), runs.map((r) => h("th", null, h("span", { class: "swatch", style: { background: r.color } }), " ", r.name)))),
        h(
          "tbody",
          null,
          shown.length
            ? shown.map((k) =>
                h(
                  "tr",
                  { class: differs(kind, k) ? "differs" : undefined, dataset: { key: k } },
                  h("th", { scope: "row", class: "mono", text: k }),
                  runs.map((r) => {
                    const v = r[kind][k];
                    return h("td", { class: kind === "metrics" ? "num" : "value mono", title: v === undefined ? "" : String(v) }, v === undefined ? h("span", { class: "muted", text: "—" }) : kind === "metrics" ? fmt.number(v) : v);
                  }),
                ),
              )
            : h("tr", null, h("td", { colspan: runs.length + 1, class: "muted", text: keys.length ? "All values are equal." : `No ${kind}.` })),
        ),
      ),
      hidden ? h("p", { class: "muted", text: `${hidden} equal row${hidden === 1 ? "" : "s"} hidden.` }) : null,
    );
  }

  function drawTables() {
    replace(paramsTable, diffTable("params", paramKeys, "compare-params"));
    replace(metricsTable, diffTable("metrics", metricKeys, "compare-metrics"));
  }
  onlyDiff.addEventListener("change", () => {
    ctx.setQuery({ all: onlyDiff.checked ? "" : "1" });
    drawTables();
  });

  // Field pickers for the plots.
  const fields = [...paramKeys.map((k) => ({ kind: "params", key: k })), ...metricKeys.map((k) => ({ kind: "metrics", key: k }))];
  const options = (selected) => [
    h("optgroup", { label: "Params" }, paramKeys.map((k) => h("option", { value: fieldId("params", k), selected: selected === fieldId("params", k), text: k }))),
    h("optgroup", { label: "Metrics" }, metricKeys.map((k) => h("option", { value: fieldId("metrics", k), selected: selected === fieldId("metrics", k), text: k }))),
  ];
  const diffParam = paramKeys.find((k) => differs("params", k)) || paramKeys[0];
  const defaultX = ctx.query.get("x") || (diffParam ? fieldId("params", diffParam) : metricKeys[1] ? fieldId("metrics", metricKeys[1]) : "");
  const defaultY = ctx.query.get("y") || (metricKeys[0] ? fieldId("metrics", metricKeys[0]) : "");
  const xSelect = h("select", { id: "scatter-x", "aria-label": "Scatter X" }, options(defaultX));
  const ySelect = h("select", { id: "scatter-y", "aria-label": "Scatter Y" }, options(defaultY));
  const scatterCanvas = h("canvas", { class: "plot", id: "scatter", role: "img", "aria-label": "Scatter plot" });
  const scatterTip = h("p", { class: "muted", "aria-live": "polite", text: "Hover a point to see its run; click it to open the run." });
  let hits = [];

  const axesText = ctx.query.get("axes");
  let axes = axesText
    ? axesText.split(",").map(parseField).filter(Boolean)
    : [...paramKeys.filter((k) => differs("params", k)).slice(0, 5).map((key) => ({ kind: "params", key })), ...metricKeys.slice(0, 2).map((key) => ({ kind: "metrics", key }))];
  const parallelCanvas = h("canvas", { class: "plot", id: "parallel", role: "img", "aria-label": "Parallel coordinates" });
  const axesPicker = h("details", { class: "menu" }, h("summary", { text: "Axes" }), h("div", { class: "menu-body" }));

  function drawScatter() {
    const fx = parseField(xSelect.value);
    const fy = parseField(ySelect.value);
    if (!fx || !fy) return;
    hits = scatter(scatterCanvas, runs.map((r) => ({ x: value(r, fx), y: value(r, fy), color: r.color, label: r.name, id: r.id })), fx.key, fy.key);
    scatterCanvas.dataset.state = "drawn";
  }
  function drawParallel() {
    parallel(parallelCanvas, axes.map((f) => f.key), runs.map((r) => ({ values: axes.map((f) => value(r, f)), color: r.color })));
    parallelCanvas.dataset.state = "drawn";
  }
  function drawAxesPicker() {
    const body = axesPicker.querySelector(".menu-body");
    replace(
      body,
      fields.map((f) => {
        const box = h("input", { type: "checkbox", checked: axes.some((a) => a.kind === f.kind && a.key === f.key) });
        box.addEventListener("change", () => {
          axes = box.checked ? [...axes, f] : axes.filter((a) => !(a.kind === f.kind && a.key === f.key));
          ctx.setQuery({ axes: axes.map((a) => fieldId(a.kind, a.key)).join(",") });
          drawParallel();
        });
        return h("label", null, box, `${f.kind === "params" ? "param" : "metric"} ${f.key}`);
      }),
    );
  }
  axesPicker.addEventListener("toggle", () => axesPicker.open && drawAxesPicker());
  xSelect.addEventListener("change", () => {
    ctx.setQuery({ x: xSelect.value });
    drawScatter();
  });
  ySelect.addEventListener("change", () => {
    ctx.setQuery({ y: ySelect.value });
    drawScatter();
  });
  const nearest = (event) => {
    const rect = scatterCanvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    return hits.find((hit) => (hit.cx - x) ** 2 + (hit.cy - y) ** 2 < 81);
  };
  scatterCanvas.addEventListener("mousemove", (event) => {
    const hit = nearest(event);
    scatterCanvas.style.cursor = hit ? "pointer" : "default";
    scatterTip.textContent = hit ? `${hit.p.label}: ${xSelect.selectedOptions[0]?.text} = ${hit.p.x ?? "—"}, ${ySelect.selectedOptions[0]?.text} = ${hit.p.y ?? "—"}` : "Hover a point to see its run; click it to open the run.";
  });
  scatterCanvas.addEventListener("click", (event) => {
    const hit = nearest(event);
    if (hit) location.hash = runLink(hit.p.id);
  });

  const header = h(
    "table",
    { class: "grid", id: "compare-runs" },
    h("thead", null, h("tr", null, h("th", { text: "Run" }), runs.map((r) => h("th", null, h("span", { class: "swatch", style: { background: r.color } }), " ", h("a", { href: runLink(r.id), text: r.name }))))),
    h(
      "tbody",
      null,
      h("tr", null, h("th", { scope: "row", text: "Status" }), runs.map((r) => h("td", null, h("span", { class: `status ${r.run.info.status}`, text: r.run.info.status })))),
      h("tr", null, h("th", { scope: "row", text: "Started" }), runs.map((r) => h("td", { text: fmt.time(r.run.info.start_time) }))),
      h("tr", null, h("th", { scope: "row", text: "Duration" }), runs.map((r) => h("td", { text: fmt.runDuration(r.run.info) }))),
      h("tr", null, h("th", { scope: "row", text: "Experiment" }), runs.map((r) => h("td", null, h("a", { href: experimentLink(r.run.info.experiment_id), text: r.run.info.experiment_id })))),
    ),
  );

  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: "#/experiments", text: "Experiments" }), " / "),
    h(
      "div",
      { class: "page-head" },
      h("h1", { text: `Compare ${runs.length} runs` }),
      h("div", { class: "actions" }, metricKeys.length ? h("a", { class: "button", href: chartLink(runs.map((r) => r.id), metricKeys[0]), text: "Chart metrics" }) : null),
    ),
    missing.length ? h("p", { class: "error", role: "alert", text: `Not found: ${missing.join(", ")}` }) : null,
    h("div", { style: { overflowX: "auto" } }, header),
    h("div", { class: "toolbar" }, h("label", null, onlyDiff, "Show only differences")),
    h("h2", { text: `Parameters (${paramKeys.length})` }),
    h("div", { style: { overflowX: "auto" } }, paramsTable),
    h("h2", { text: `Metrics (${metricKeys.length})` }),
    h("div", { style: { overflowX: "auto" } }, metricsTable),
    h("h2", { text: "Scatter" }),
    h("div", { class: "controls" }, h("label", null, "X ", xSelect), h("label", null, "Y ", ySelect)),
    scatterCanvas,
    scatterTip,
    h("h2", { text: "Parallel coordinates" }),
    h("div", { class: "controls" }, axesPicker, h("span", { class: "muted", text: "One line per run, in its colour; categorical values are spread evenly." })),
    parallelCanvas,
  );
  drawTables();
  drawScatter();
  drawParallel();
  const redraw = () => {
    drawScatter();
    drawParallel();
  };
  const resize = new ResizeObserver(redraw);
  resize.observe(scatterCanvas);
  window.addEventListener("themechange", redraw);
  return () => {
    resize.disconnect();
    window.removeEventListener("themechange", redraw);
  };
}
