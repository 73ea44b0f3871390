// Canvas helpers shared by the charts: a crisp backing store on any screen, nice ticks.

/** Sizes the canvas's backing store to its CSS size × devicePixelRatio; returns the
 *  2D context scaled so that drawing uses CSS pixels, and that size. */
export function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const rect = canvas.getBoundingClientRect();
  const width = Math.max(1, Math.round(rect.width));
  const height = Math.max(1, Math.round(rect.height));
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  return { g, width, height };
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo, hi, count) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const span = hi - lo;
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Ticks of a log10 axis over [lo, hi] (given as log10 values): powers of ten, and
 *  their 2x and 5x multiples when the axis spans few decades. */
export function logTicks(lo, hi, count) {
  const out = [];
  const decades = hi - lo;
  const multiples = decades < 2.5 ? [1, 2, 5] : [1];
  const stride = Math.max(1, Math.ceil(decades / count));
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e += stride) {
    for (const m of multiples) {
      const t = e + Math.log10(m);
      if (t >= lo && t <= hi) out.push(t);
    }
  }
  if (out.length >= 4) return out;
  // Less than a decade: round values in linear space, placed on the log axis.
  return ticks(10 ** lo, 10 ** hi, count).filter((v) => v > 0).map(Math.log10);
}
