// The compare view's plots on canvas: a scatter of one field against another, and
// parallel coordinates across several. A field's values are numbers when every present
// value parses as one; otherwise they are categories, placed evenly along the axis.

import { cssVar } from "../dom.js";
import * as fmt from "../format.js";
import { setup, ticks } from "./canvas.js";

/** An axis for values (strings or numbers, undefined when missing). */
export function axis(values) {
  const present = values.filter((v) => v !== undefined && v !== null && v !== "");
  const numeric = present.length > 0 && present.every((v) => Number.isFinite(Number(v)));
  if (numeric) {
    const nums = present.map(Number);
    let lo = Math.min(...nums);
    let hi = Math.max(...nums);
    if (lo === hi) [lo, hi] = [lo - (Math.abs(lo) || 1) * 0.1, hi + (Math.abs(hi) || 1) * 0.1];
    // A margin, so that the extreme points are not drawn on the frame.
    const margin = (hi - lo) * 0.06;
    lo -= margin;
    hi += margin;
    return {
      numeric: true,
      lo,
      hi,
      pos: (v) => (v === undefined || v === "" || !Number.isFinite(Number(v)) ? NaN : (Number(v) - lo) / (hi - lo)),
      ticks: () => ticks(lo, hi, 5).map((t) => [(t - lo) / (hi - lo), fmt.tick(t)]),
    };
  }
  const cats = [...new Set(present.map(String))].sort();
  const index = new Map(cats.map((c, i) => [c, i]));
  const n = Math.max(1, cats.length - 1);
  return {
    numeric: false,
    pos: (v) => (index.has(String(v)) ? (cats.length === 1 ? 0.5 : index.get(String(v)) / n) : NaN),
    ticks: () => cats.slice(0, 30).map((c) => [cats.length === 1 ? 0.5 : index.get(c) / n, c.length > 14 ? `${c.slice(0, 13)}…` : c]),
  };
}

/** points: [{x, y, color, label}] with raw values; draws and returns hit boxes. */
export function scatter(canvas, points, xName, yName) {
  const { g, width, height } = setup(canvas);
  const m = { left: 70, right: 20, top: 16, bottom: 46 };
  const ax = axis(points.map((p) => p.x));
  const ay = axis(points.map((p) => p.y));
  const X = (t) => m.left + t * (width - m.left - m.right);
  const Y = (t) => height - m.bottom - t * (height - m.top - m.bottom);
  g.font = "12px system-ui, sans-serif";
  g.strokeStyle = cssVar("--grid");
  g.fillStyle = cssVar("--muted");
  g.textAlign = "center";
  g.textBaseline = "top";
  for (const [t, label] of ax.ticks()) {
    g.beginPath();
    g.moveTo(X(t) + 0.5, m.top);
    g.lineTo(X(t) + 0.5, height - m.bottom);
    g.stroke();
    g.fillText(label, X(t), height - m.bottom + 6);
  }
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (const [t, label] of ay.ticks()) {
    g.beginPath();
    g.moveTo(m.left, Y(t) + 0.5);
    g.lineTo(width - m.right, Y(t) + 0.5);
    g.stroke();
    g.fillText(label, m.left - 6, Y(t));
  }
  g.fillStyle = cssVar("--fg");
  g.textAlign = "center";
  g.textBaseline = "bottom";
  g.fillText(xName, (m.left + width - m.right) / 2, height - 4);
  g.save();
  g.translate(14, (m.top + height - m.bottom) / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = "middle";
  g.fillText(yName, 0, 0);
  g.restore();
  const hits = [];
  for (const p of points) {
    const tx = ax.pos(p.x);
    const ty = ay.pos(p.y);
    if (!Number.isFinite(tx) || !Number.isFinite(ty)) continue;
    const cx = X(tx);
    const cy = Y(ty);
    g.fillStyle = p.color;
    g.strokeStyle = cssVar("--bg");
    g.beginPath();
    g.arc(cx, cy, 6, 0, Math.PI * 2);
    g.fill();
    g.stroke();
    hits.push({ cx, cy, p });
  }
  return hits;
}

/** lines: [{values: [...one per field], color}]; fields: names of the axes. */
export function parallel(canvas, fields, lines) {
  const { g, width, height } = setup(canvas);
  const m = { left: 40, right: 70, top: 30, bottom: 24 };
  if (fields.length < 2) {
    g.fillStyle = cssVar("--muted");
    g.font = "14px system-ui, sans-serif";
    g.fillText("Choose at least two fields.", m.left, m.top + 10);
    return;
  }
  const axes = fields.map((_, i) => axis(lines.map((l) => l.values[i])));
  const X = (i) => m.left + (i / (fields.length - 1)) * (width - m.left - m.right);
  const Y = (t) => height - m.bottom - t * (height - m.top - m.bottom);
  g.lineWidth = 1.6;
  for (const line of lines) {
    g.strokeStyle = line.color;
    g.globalAlpha = 0.85;
    g.beginPath();
    let pen = false;
    fields.forEach((_, i) => {
      const t = axes[i].pos(line.values[i]);
      if (!Number.isFinite(t)) {
        pen = false;
        return;
      }
      if (pen) g.lineTo(X(i), Y(t));
      else g.moveTo(X(i), Y(t));
      pen = true;
    });
    g.stroke();
  }
  g.globalAlpha = 1;
  g.font = "12px system-ui, sans-serif";
  fields.forEach((name, i) => {
    const x = Math.round(X(i)) + 0.5;
    g.strokeStyle = cssVar("--muted");
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x, m.top);
    g.lineTo(x, height - m.bottom);
    g.stroke();
    g.fillStyle = cssVar("--fg");
    g.textAlign = "center";
    g.textBaseline = "bottom";
    g.fillText(name.length > 22 ? `${name.slice(0, 21)}…` : name, x, m.top - 8);
    g.fillStyle = cssVar("--muted");
    g.textAlign = "left";
    g.textBaseline = "middle";
    for (const [t, label] of axes[i].ticks()) g.fillText(label, x + 4, Y(t));
  });
}
