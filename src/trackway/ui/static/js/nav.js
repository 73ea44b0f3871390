// URLs of views. Every view is a hash route, so a link pasted into chat opens the same
// view: #/experiments/<id>?filter=..., #/runs/<id>, #/compare?runs=a,b, #/charts?...

/** The hash URL of a view: link("/runs/x", {tab: "artifacts"}). */
export function link(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return `#${path}${text ? "?" + text : ""}`;
}

export const runLink = (runId, query) => link(`/runs/${encodeURIComponent(runId)}`, query);
export const experimentLink = (id, query) => link(`/experiments/${encodeURIComponent(id)}`, query);
export const modelLink = (name) => link(`/models/${encodeURIComponent(name)}`);
export const versionLink = (name, version) => link(`/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`);
export const compareLink = (runIds) => link("/compare", { runs: runIds.join(",") });
export const chartLink = (runIds, metric, extra) => link("/charts", { runs: runIds.join(","), metric, ...extra });
