// Sparklines of a run's metrics: tiny canvases, drawn when they scroll into view, from a
// series the server downsampled to a few dozen points. At most a few requests at once.

import * as api from "../api.js";
import { cssVar } from "../dom.js";
import { setup } from "./canvas.js";

const POINTS = 80;
const PARALLEL = 4;

export function drawSparkline(canvas, values) {
  const { g, width, height } = setup(canvas);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) return;
  const span = hi - lo || 1;
  g.strokeStyle = cssVar("--accent");
  g.lineWidth = 1.25;
  g.beginPath();
  let started = false;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const x = values.length === 1 ? width / 2 : 1 + (i / (values.length - 1)) * (width - 2);
    const y = height - 2 - ((v - lo) / span) * (height - 4);
    if (started) g.lineTo(x, y);
    else g.moveTo(x, y);
    started = true;
  });
  if (values.length === 1) g.arc(width / 2, height / 2, 1.5, 0, Math.PI * 2);
  g.stroke();
}

/** Loads and draws sparklines of `runId` into canvases with data-metric, lazily. */
export function sparklines(runId, canvases, signal) {
  const queue = [];
  let running = 0;
  const cache = new Map();
  const next = () => {
    while (running < PARALLEL && queue.length && !signal.aborted) {
      const canvas = queue.shift();
      running += 1;
      const key = canvas.dataset.metric;
      api
        .metricSeries([runId], key, POINTS, signal)
        .then((series) => {
          const values = Array.from(series.get(runId).values);
          cache.set(canvas, values);
          drawSparkline(canvas, values);
          canvas.dataset.state = "drawn";
        })
        .catch(() => {
          canvas.dataset.state = "error";
        })
        .finally(() => {
          running -= 1;
          next();
        });
    }
  };
  const seen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        seen.unobserve(entry.target);
        queue.push(entry.target);
      }
    }
    next();
  });
  for (const canvas of canvases) seen.observe(canvas);
  const redraw = () => {
    for (const [canvas, values] of cache) drawSparkline(canvas, values);
  };
  window.addEventListener("themechange", redraw);
  return () => {
    seen.disconnect();
    window.removeEventListener("themechange", redraw);
  };
}
