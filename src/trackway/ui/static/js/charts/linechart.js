// A line chart on canvas: many runs overlaid, x by step or time, EMA smoothing, log y,
// box zoom (drag; double-click or Escape resets), keyboard zoom and pan, and a hover
// read-out. A base canvas holds the lines; an overlay canvas holds the crosshair and the
// zoom box, so hovering never redraws the lines. No per-point DOM: 50 runs of a few
// thousand (server-downsampled) points draw in a few milliseconds.

import { cssVar } from "../dom.js";
import * as fmt from "../format.js";
import { logTicks, setup, ticks } from "./canvas.js";

const MARGIN = { left: 64, right: 16, top: 12, bottom: 34 };
// A drag at least this tall zooms y too; a flatter one zooms x and fits y to the data.
const BOX_MIN_HEIGHT = 24;

/** EMA with the start-up bias removed (as TensorBoard smooths): weight in [0, 1). */
export function smooth(values, weight) {
  if (!weight) return values;
  const out = new Float64Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/** First index with xs[i] >= x (xs ascending). */
function lowerBound(xs, x) {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class LineChart {
  /** canvas: the base; overlay: a canvas on top of it; tip: the read-out element. */
  constructor(canvas, overlay, tip) {
    this.canvas = canvas;
    this.overlay = overlay;
    this.tip = tip;
    this.series = [];
    this.options = { xKind: "step", log: false, smoothing: 0 };
    this.view = null; // {x0, x1, y0, y1} when zoomed, y may be null (fit)
    this.frame = null; // the last draw's geometry
    this.drag = null;
    this.onZoom = () => {};
    this.bind();
  }

  /** series: [{id, name, color, x, y (Float64Array), visible}] */
  setSeries(series) {
    this.series = series;
    this.restyle();
  }

  setOptions(options) {
    Object.assign(this.options, options);
    this.restyle();
  }

  restyle() {
    for (const s of this.series) s.smoothed = smooth(s.y, this.options.smoothing);
    this.draw();
  }

  zoom(view) {
    this.view = view;
    this.draw();
    this.onZoom(view);
  }

  extent() {
    let x0 = Infinity;
    let x1 = -Infinity;
    for (const s of this.series) {
      if (!s.visible || !s.x.length) continue;
      x0 = Math.min(x0, s.x[0]);
      x1 = Math.max(x1, s.x[s.x.length - 1]);
    }
    return [x0, x1];
  }

  draw() {
    const { g, width, height } = setup(this.canvas);
    setup(this.overlay);
    const log = this.options.log;
    const fg = cssVar("--fg");
    const muted = cssVar("--muted");
    const grid = cssVar("--grid");
    const plot = { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: height - MARGIN.bottom };
    let [x0, x1] = this.extent();
    if (this.view) [x0, x1] = [this.view.x0, this.view.x1];
    if (!Number.isFinite(x0)) {
      g.fillStyle = muted;
      g.font = "14px system-ui, sans-serif";
      g.fillText("No data to draw.", plot.left + 10, plot.top + 24);
      this.frame = null;
      return 0;
    }
    if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];

    // The y range of what is visible, in the (log) space drawn.
    const ty = (v) => (log ? (v > 0 ? Math.log10(v) : NaN) : v);
    let y0 = Infinity;
    let y1 = -Infinity;
    let drawn = 0;
    for (const s of this.series) {
      if (!s.visible) continue;
      const from = Math.max(0, lowerBound(s.x, x0) - 1);
      const to = Math.min(s.x.length, lowerBound(s.x, x1) + 1);
      for (const ys of this.options.smoothing ? [s.y, s.smoothed] : [s.y]) {
        for (let i = from; i < to; i += 1) {
          const v = ty(ys[i]);
          if (v < y0) y0 = v;
          if (v > y1) y1 = v;
        }
      }
    }
    if (this.view && this.view.y0 !== null && this.view.y0 !== undefined) [y0, y1] = [this.view.y0, this.view.y1];
    if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
    if (y0 === y1) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.05, y1 + (Math.abs(y1) || 1) * 0.05];
    else if (!this.view || this.view.y0 === null || this.view.y0 === undefined) {
      const padY = (y1 - y0) * 0.04;
      y0 -= padY;
      y1 += padY;
    }
    const sx = (plot.right - plot.left) / (x1 - x0);
    const sy = (plot.bottom - plot.top) / (y1 - y0);
    const px = (x) => plot.left + (x - x0) * sx;
    const py = (v) => plot.bottom - (v - y0) * sy;

    // Grid and axes.
    g.font = "12px system-ui, sans-serif";
    g.lineWidth = 1;
    g.strokeStyle = grid;
    g.fillStyle = muted;
    g.textAlign = "right";
    g.textBaseline = "middle";
    const yTicks = log ? logTicks(y0, y1, 6) : ticks(y0, y1, 6);
    for (const t of yTicks) {
      const y = Math.round(py(t)) + 0.5;
      g.beginPath();
      g.moveTo(plot.left, y);
      g.lineTo(plot.right, y);
      g.stroke();
      g.fillText(log ? fmt.tick(10 ** t) : fmt.tick(t), plot.left - 6, y);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const xTicks = ticks(x0, x1, Math.max(2, Math.floor((plot.right - plot.left) / 110)));
    for (const t of xTicks) {
      const x = Math.round(px(t)) + 0.5;
      g.beginPath();
      g.moveTo(x, plot.top);
      g.lineTo(x, plot.bottom);
      g.stroke();
      g.fillText(this.xLabel(t, x1 - x0), x, plot.bottom + 6);
    }
    g.strokeStyle = muted;
    g.strokeRect(plot.left + 0.5, plot.top + 0.5, plot.right - plot.left, plot.bottom - plot.top);

    // The lines, clipped to the plot.
    g.save();
    g.beginPath();
    g.rect(plot.left, plot.top, plot.right - plot.left, plot.bottom - plot.top);
    g.clip();
    g.lineJoin = "round";
    for (const s of this.series) {
      if (!s.visible) continue;
      const from = Math.max(0, lowerBound(s.x, x0) - 1);
      const to = Math.min(s.x.length, lowerBound(s.x, x1) + 1);
      const layers = this.options.smoothing ? [[s.y, 0.25, 1], [s.smoothed, 1, 1.6]] : [[s.y, 1, 1.5]];
      for (const [ys, alpha, lineWidth] of layers) {
        g.globalAlpha = alpha;
        g.strokeStyle = s.color;
        g.lineWidth = lineWidth;
        g.beginPath();
        let pen = false;
        for (let i = from; i < to; i += 1) {
          const v = ty(ys[i]);
          if (!Number.isFinite(v)) {
            pen = false;
            continue;
          }
          const x = px(s.x[i]);
          const y = py(v);
          if (pen) g.lineTo(x, y);
          else g.moveTo(x, y);
          pen = true;
        }
        if (to - from === 1) g.arc(px(s.x[from]), py(ty(ys[from])), 2, 0, Math.PI * 2);
        g.stroke();
        drawn += to - from;
      }
    }
    g.restore();
    g.globalAlpha = 1;
    g.fillStyle = fg;
    this.frame = { plot, x0, x1, y0, y1, px, py, ty, sx, sy };
    return drawn;
  }

  xLabel(v, span) {
    if (this.options.xKind === "time") {
      const d = new Date(v);
      const pad = (n) => String(n).padStart(2, "0");
      return span > 2 * 86400000 ? `${d.getMonth() + 1}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    }
    if (this.options.xKind === "relative") return fmt.duration(v * 1000);
    return fmt.tick(v);
  }

  bind() {
    const at = (event) => {
      const rect = this.canvas.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    const inside = (x, y) => this.frame && x >= this.frame.plot.left && x <= this.frame.plot.right && y >= this.frame.plot.top && y <= this.frame.plot.bottom;
    this.overlay.addEventListener("mousedown", (event) => {
      const [x, y] = at(event);
      if (!inside(x, y) || event.button !== 0) return;
      this.drag = { x, y, x2: x, y2: y };
      event.preventDefault();
    });
    window.addEventListener("mousemove", (event) => {
      if (!this.frame) return;
      const [x, y] = at(event);
      if (this.drag) {
        this.drag.x2 = Math.min(Math.max(x, this.frame.plot.left), this.frame.plot.right);
        this.drag.y2 = Math.min(Math.max(y, this.frame.plot.top), this.frame.plot.bottom);
        this.paintOverlay(null);
      } else if (event.target === this.overlay && inside(x, y)) {
        this.paintOverlay(x);
      } else if (!this.tip.hidden) {
        this.paintOverlay(null);
      }
    });
    window.addEventListener("mouseup", () => {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      this.paintOverlay(null);
      if (Math.abs(d.x2 - d.x) < 5 || !this.frame) return;
      const f = this.frame;
      const toX = (p) => f.x0 + (p - f.plot.left) / f.sx;
      const toY = (p) => f.y0 + (f.plot.bottom - p) / f.sy;
      const tall = Math.abs(d.y2 - d.y) >= BOX_MIN_HEIGHT;
      this.zoom({
        x0: toX(Math.min(d.x, d.x2)),
        x1: toX(Math.max(d.x, d.x2)),
        y0: tall ? toY(Math.max(d.y, d.y2)) : null,
        y1: tall ? toY(Math.min(d.y, d.y2)) : null,
      });
    });
    this.overlay.addEventListener("dblclick", () => this.zoom(null));
    this.overlay.addEventListener("mouseleave", () => {
      if (!this.drag) this.paintOverlay(null);
    });
    this.overlay.addEventListener("keydown", (event) => {
      if (!this.frame) return;
      const { x0, x1 } = this.frame;
      const span = x1 - x0;
      const mid = (x0 + x1) / 2;
      const keys = {
        "+": () => ({ x0: mid - span / 4, x1: mid + span / 4, y0: null, y1: null }),
        "=": () => ({ x0: mid - span / 4, x1: mid + span / 4, y0: null, y1: null }),
        "-": () => ({ x0: mid - span, x1: mid + span, y0: null, y1: null }),
        ArrowLeft: () => ({ x0: x0 - span / 10, x1: x1 - span / 10, y0: null, y1: null }),
        ArrowRight: () => ({ x0: x0 + span / 10, x1: x1 + span / 10, y0: null, y1: null }),
        Escape: () => null,
        0: () => null,
      };
      if (!(event.key in keys)) return;
      event.preventDefault();
      this.zoom(keys[event.key]());
    });
  }

  /** The crosshair and read-out at canvas x (or nothing), and the zoom box while dragging. */
  paintOverlay(x) {
    const { g } = setup(this.overlay);
    const f = this.frame;
    if (!f) return;
    if (this.drag) {
      const d = this.drag;
      g.fillStyle = cssVar("--accent");
      g.globalAlpha = 0.15;
      const tall = Math.abs(d.y2 - d.y) >= BOX_MIN_HEIGHT;
      const top = tall ? Math.min(d.y, d.y2) : f.plot.top;
      const h = tall ? Math.abs(d.y2 - d.y) : f.plot.bottom - f.plot.top;
      g.fillRect(Math.min(d.x, d.x2), top, Math.abs(d.x2 - d.x), h);
      g.globalAlpha = 1;
      this.tip.hidden = true;
      return;
    }
    if (x === null) {
      this.tip.hidden = true;
      return;
    }
    const xv = f.x0 + (x - f.plot.left) / f.sx;
    g.strokeStyle = cssVar("--muted");
    g.setLineDash([4, 4]);
    g.beginPath();
    g.moveTo(Math.round(x) + 0.5, f.plot.top);
    g.lineTo(Math.round(x) + 0.5, f.plot.bottom);
    g.stroke();
    g.setLineDash([]);
    const rows = [];
    for (const s of this.series) {
      if (!s.visible || !s.x.length) continue;
      let i = lowerBound(s.x, xv);
      if (i >= s.x.length || (i > 0 && xv - s.x[i - 1] < s.x[i] - xv)) i -= 1;
      if (Math.abs(f.px(s.x[i]) - x) > 40) continue;
      const ys = this.options.smoothing ? s.smoothed : s.y;
      const v = ys[i];
      const yy = f.ty(v);
      if (Number.isFinite(yy)) {
        g.fillStyle = s.color;
        g.beginPath();
        g.arc(f.px(s.x[i]), f.py(yy), 3.5, 0, Math.PI * 2);
        g.fill();
      }
      rows.push({ s, v, x: s.x[i] });
    }
    if (!rows.length) {
      this.tip.hidden = true;
      return;
    }
    rows.sort((a, b) => b.v - a.v);
    const shown = rows.slice(0, 12);
    const lines = shown.map((r) => {
      const line = document.createElement("div");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = r.s.color;
      line.append(sw, ` ${r.s.name}: ${fmt.number(r.v)}`);
      return line;
    });
    const head = document.createElement("div");
    head.className = "muted";
    head.textContent = `${this.options.xKind === "step" ? "step" : "x"} ${this.xLabel(shown[0].x, f.x1 - f.x0)}`;
    this.tip.replaceChildren(head, ...lines, ...(rows.length > shown.length ? [`… and ${rows.length - shown.length} more`] : []));
    this.tip.hidden = false;
    const box = this.canvas.getBoundingClientRect();
    const left = x + 16 + 240 > box.width ? x - 250 : x + 16;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${f.plot.top + 8}px`;
  }
}
