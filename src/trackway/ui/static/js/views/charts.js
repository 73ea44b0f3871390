// #/charts?runs=a,b&metric=loss&x=step|relative|time&smooth=0.6&log=1&zoom=x0,x1
// A metric's history for several runs, overlaid. The server downsamples each series
// (get-history-bulk-interval keeps each bucket's minimum and maximum), so a run of a
// million points arrives as a few thousand and still shows its spikes.

import * as api from "../api.js";
import { h, replace, runColor } from "../dom.js";
import * as fmt from "../format.js";
import { compareLink, runLink } from "../nav.js";
import { LineChart } from "../charts/linechart.js";

// Points per run: enough for each pixel column's minimum and maximum when few runs are
// drawn, fewer per run when many overlap (their lines cover each other anyway).
function pointsPerRun(plotWidth, runs) {
  const full = Math.round(plotWidth * 2);
  const shared = Math.round((plotWidth * 20) / Math.max(1, runs));
  return Math.max(200, Math.min(api.BULK_MAX_POINTS, full, shared));
}

export async function render(main, ctx) {
  const ids = (ctx.query.get("runs") || "").split(",").filter(Boolean);
  if (!ids.length) {
    replace(main, h("h1", { text: "Charts" }), h("p", null, "Select runs in an experiment's table and choose ", h("strong", { text: "Chart" }), ", or open a metric from a run's page."));
    return undefined;
  }
  const runs = await api.getRuns(ids);
  if (!ctx.alive()) return undefined;
  const keys = [...new Set(runs.flatMap((r) => (r.data.metrics || []).map((m) => m.key)))].sort();
  let metric = ctx.query.get("metric") || keys[0] || "";
  const xKind = ["step", "relative", "time"].includes(ctx.query.get("x")) ? ctx.query.get("x") : "step";
  const smoothing = Math.min(0.99, Math.max(0, Number(ctx.query.get("smooth")) || 0));
  const log = ctx.query.get("log") === "1";

  const metricSelect = h("select", { id: "chart-metric", "aria-label": "Metric" }, keys.map((k) => h("option", { value: k, selected: k === metric, text: k })));
  if (metric && !keys.includes(metric)) metricSelect.prepend(h("option", { value: metric, selected: true, text: metric }));
  const xSelect = h(
    "select",
    { id: "chart-x", "aria-label": "X axis" },
    [["step", "Step"], ["relative", "Relative time"], ["time", "Wall time"]].map(([v, t]) => h("option", { value: v, selected: v === xKind, text: t })),
  );
  const smoothInput = h("input", { type: "range", id: "chart-smoothing", min: 0, max: 0.99, step: 0.01, value: smoothing, "aria-label": "Smoothing" });
  const smoothValue = h("output", { for: "chart-smoothing", text: smoothing.toFixed(2) });
  const logBox = h("input", { type: "checkbox", id: "chart-log", checked: log });
  const resetButton = h("button", { type: "button", id: "chart-reset", text: "Reset zoom" });
  const canvas = h("canvas", { class: "chart", id: "chart" });
  const overlay = h("canvas", { class: "chart", tabindex: "0", role: "img", "aria-label": "Chart; drag to zoom, double-click or Escape to reset, + and - zoom, arrows pan", style: { position: "absolute", left: "0.4rem", top: "0.4rem", width: "calc(100% - 0.8rem)" } });
  const tip = h("div", { class: "chart-tip", hidden: true });
  const legend = h("div", { class: "legend", id: "chart-legend", "aria-label": "Runs (click to hide or show)" });
  const status = h("p", { class: "muted", id: "chart-status", "aria-live": "polite" });

  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: "#/experiments", text: "Experiments" }), " / ", runs[0] ? h("a", { href: `#/experiments/${encodeURIComponent(runs[0].info.experiment_id)}`, text: "Runs" }) : "", " / "),
    h(
      "div",
      { class: "page-head" },
      h("h1", { text: metric ? `Chart: ${metric}` : "Chart" }),
      h("div", { class: "actions" }, runs.length > 1 ? h("a", { class: "button", href: compareLink(runs.map((r) => r.info.run_id)), text: "Compare these runs" }) : null),
    ),
    h(
      "div",
      { class: "controls" },
      h("label", null, "Metric ", metricSelect),
      h("label", null, "X axis ", xSelect),
      h("label", null, "Smoothing ", smoothInput, smoothValue),
      h("label", null, logBox, "Log scale"),
      resetButton,
    ),
    h("div", { class: "chart-wrap" }, canvas, overlay, tip),
    legend,
    status,
  );

  const chart = new LineChart(canvas, overlay, tip);
  const zoomText = ctx.query.get("zoom");
  chart.onZoom = (view) => ctx.setQuery({ zoom: view ? `${view.x0},${view.x1}` : "" });
  let loaded = null; // Map(run_id -> series) of the current metric

  function seriesFor(kind) {
    return runs.map((run, i) => {
      const id = run.info.run_id;
      const data = loaded.get(id) || { steps: new Float64Array(), times: new Float64Array(), values: new Float64Array() };
      let x = data.steps;
      if (kind === "time") x = data.times;
      if (kind === "relative") {
        const start = Number(run.info.start_time) || (data.times.length ? data.times[0] : 0);
        x = data.times.map((t) => (t - start) / 1000);
      }
      // Time can go backwards between steps; the chart wants x ascending.
      if (kind !== "step") x = sortedCopy(x, data.values);
      return {
        id,
        name: fmt.runName(run),
        color: runColor(i),
        x: kind === "step" ? x : x.x,
        y: kind === "step" ? data.values : x.y,
        visible: true,
      };
    });
  }

  function drawLegend(series) {
    replace(
      legend,
      series.map((s) => {
        const button = h("button", { type: "button", "aria-pressed": "true", title: s.id }, h("span", { class: "swatch", style: { background: s.color } }), s.name, s.x.length ? "" : " (no data)");
        button.addEventListener("click", () => {
          s.visible = !s.visible;
          button.setAttribute("aria-pressed", String(s.visible));
          chart.draw();
        });
        button.addEventListener("contextmenu", (e) => {
          e.preventDefault();
          location.hash = runLink(s.id);
        });
        return button;
      }),
    );
  }

  async function load() {
    if (!metric) {
      status.textContent = "These runs have no metrics.";
      return;
    }
    const started = performance.now();
    canvas.dataset.state = "loading";
    status.textContent = "Loading…";
    const width = canvas.getBoundingClientRect().width - 80;
    const perRun = pointsPerRun(width, runs.length);
    loaded = await api.metricSeries(ids, metric, perRun, ctx.signal);
    if (!ctx.alive()) return;
    const fetched = performance.now();
    const series = seriesFor(xSelect.value);
    chart.options = { xKind: xSelect.value, log: logBox.checked, smoothing: Number(smoothInput.value) };
    if (zoomText) {
      const [x0, x1] = zoomText.split(",").map(Number);
      if (Number.isFinite(x0) && Number.isFinite(x1) && x1 > x0) chart.view = { x0, x1, y0: null, y1: null };
    }
    chart.setSeries(series);
    drawLegend(series);
    const drawn = performance.now();
    const points = series.reduce((n, s) => n + s.x.length, 0);
    window.trackway.timings.chartFetch = fetched - started;
    window.trackway.timings.chartDraw = drawn - fetched;
    window.trackway.timings.chartTotal = drawn - ctx.started;
    window.trackway.timings.chartPoints = points;
    canvas.dataset.state = "drawn";
    canvas.dataset.points = String(points);
    canvas.dataset.series = String(series.filter((s) => s.x.length).length);
    status.textContent = `${series.length} run${series.length === 1 ? "" : "s"}, ${points} points drawn (downsampled by the server to at most ${perRun} per run). Drag to zoom; double-click to reset.`;
  }

  metricSelect.addEventListener("change", () => {
    metric = metricSelect.value;
    ctx.setQuery({ metric, zoom: "" });
    main.querySelector("h1").textContent = `Chart: ${metric}`;
    chart.view = null;
    load();
  });
  xSelect.addEventListener("change", () => {
    ctx.setQuery({ x: xSelect.value === "step" ? "" : xSelect.value, zoom: "" });
    chart.view = null;
    chart.options.xKind = xSelect.value;
    const visible = new Map(chart.series.map((s) => [s.id, s.visible]));
    const series = seriesFor(xSelect.value);
    for (const s of series) s.visible = visible.get(s.id) ?? true;
    chart.setSeries(series);
    chart.onZoom(null);
  });
  smoothInput.addEventListener("input", () => {
    smoothValue.textContent = Number(smoothInput.value).toFixed(2);
    chart.setOptions({ smoothing: Number(smoothInput.value) });
  });
  smoothInput.addEventListener("change", () => ctx.setQuery({ smooth: Number(smoothInput.value) ? smoothInput.value : "" }));
  logBox.addEventListener("change", () => {
    ctx.setQuery({ log: logBox.checked ? "1" : "" });
    chart.setOptions({ log: logBox.checked });
  });
  resetButton.addEventListener("click", () => chart.zoom(null));
  const redraw = () => chart.draw();
  const resize = new ResizeObserver(redraw);
  resize.observe(canvas);
  window.addEventListener("themechange", redraw);

  await load();
  return () => {
    resize.disconnect();
    window.removeEventListener("themechange", redraw);
  };
}

/** x and y reordered by x (stable), for time axes. */
function sortedCopy(x, y) {
  let ascending = true;
  for (let i = 1; i < x.length; i += 1) {
    if (x[i] < x[i - 1]) {
      ascending = false;
      break;
    }
  }
  if (ascending) return { x: Float64Array.from(x), y };
  const order = Array.from(x.keys()).sort((a, b) => x[a] - x[b] || a - b);
  return { x: Float64Array.from(order, (i) => x[i]), y: Float64Array.from(order, (i) => y[i]) };
}
