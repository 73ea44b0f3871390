// Formatting of times, durations, numbers and sizes for display.

export function time(ms) {
  if (ms === undefined || ms === null || ms === "" || Number(ms) <= 0) return "—";
  const d = new Date(Number(ms));
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  let s = Math.round(ms / 1000);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s || !parts.length) parts.push(`${s}s`);
  return parts.slice(0, 2).join(" ");
}

/** A run's duration: end - start, or the time so far while it runs. */
export function runDuration(info) {
  const start = Number(info.start_time || 0);
  if (!start) return "—";
  const end = info.end_time ? Number(info.end_time) : info.status === "RUNNING" ? Date.now() : 0;
  return end ? duration(end - start) : "—";
}

/** A metric value: up to 6 significant digits, integers as they are. */
export function number(v) {
  if (v === undefined || v === null || v === "") return "";
  const n = typeof v === "number" ? v : Number(v);
  if (Number.isNaN(n)) return String(v);
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "-∞";
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return n.toExponential(4).replace(/\.?0+e/, "e");
  return String(Number(n.toPrecision(6)));
}

/** A short axis label. */
export function tick(v) {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6 || a < 1e-3) return v.toExponential(1).replace(".0e", "e");
  return String(Number(v.toPrecision(4)));
}

export function bytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}

/** A run's display name: its name, or its short id. */
export function runName(run) {
  const info = run.info || run;
  return info.run_name || shortId(info.run_id);
}
