// The server, as the UI sees it: MLflow's REST API 2.0 below /api/2.0/mlflow/ and its
// artifact proxy below /api/2.0/mlflow-artifacts/. Errors come back as ApiError with
// the server's error_code and message, which views show as they are (a bad filter's
// message names the token and its position). With a server that asks for a token, every
// request carries the one given in the token box (token.js); a 401 opens that box.

import { ask, authorize } from "./token.js";

const BASE = "/api/2.0/mlflow/";
const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts/";
export const NOTE_TAG = "mlflow.note.content";
export const PARENT_TAG = "mlflow.parentRunId";
// MLflow's bulk-interval endpoint caps points per run and runs per request.
export const BULK_MAX_POINTS = 2500;
export const BULK_MAX_RUNS = 100;
// Runs per bulk request: several smaller requests overlap the server's work on one with
// the browser's parsing of another, which is faster than one request of 100 runs.
const BULK_GROUP = 10;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, { query, body, signal } = {}) {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
    }
    url += "?" + params.toString();
  }
  const init = { method, signal, headers: authorize({}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "UNAVAILABLE", `the server did not answer (${err.message})`);
  }
  const text = await response.text();
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, "BAD_RESPONSE", text.slice(0, 300));
    }
  }
  if (!response.ok) {
    if (response.status === 401) ask(data.message || "The server asks for an API token.");
    throw new ApiError(response.status, data.error_code || "ERROR", data.message || response.statusText);
  }
  return data;
}

const get = (path, query, signal) => request("GET", path, { query, signal });
const post = (path, body, signal) => request("POST", path, { body, signal });

// Experiments

export function searchExperiments({ filter = "", viewType = "ACTIVE_ONLY", maxResults = 1000, pageToken = "" } = {}) {
  return post("experiments/search", {
    filter,
    view_type: viewType,
    max_results: maxResults,
    page_token: pageToken || undefined,
    order_by: ["last_update_time DESC"],
  });
}
export const getExperiment = (id) => get("experiments/get", { experiment_id: id }).then((r) => r.experiment);
export const createExperiment = (name) => post("experiments/create", { name });
export const renameExperiment = (id, newName) => post("experiments/update", { experiment_id: id, new_name: newName });
export const deleteExperiment = (id) => post("experiments/delete", { experiment_id: id });
export const restoreExperiment = (id) => post("experiments/restore", { experiment_id: id });

// Runs

export function searchRuns({ experimentIds = [], filter = "", orderBy = [], maxResults = 1000, pageToken = "", signal } = {}) {
  return post(
    "runs/search",
    {
      experiment_ids: experimentIds,
      filter,
      order_by: orderBy,
      max_results: maxResults,
      page_token: pageToken || undefined,
      run_view_type: "ACTIVE_ONLY",
    },
    signal,
  );
}

// Ids per `run_id IN (...)` search: keeps the filter well below its 16 KB limit.
const IDS_PER_SEARCH = 200;

/** Runs by id, through `run_id IN (...)` searches, in the order asked for. */
export async function getRuns(ids) {
  const found = new Map();
  const groups = [];
  for (let i = 0; i < ids.length; i += IDS_PER_SEARCH) groups.push(ids.slice(i, i + IDS_PER_SEARCH));
  await Promise.all(
    groups.map(async (group) => {
      const filter = `attributes.run_id IN (${group.map(quote).join(", ")})`;
      let token = "";
      do {
        const page = await searchRuns({ filter, maxResults: 1000, pageToken: token });
        for (const run of page.runs || []) found.set(run.info.run_id, run);
        token = page.next_page_token || "";
      } while (token);
    }),
  );
  return ids.filter((id) => found.has(id)).map((id) => found.get(id));
}

export const getRun = (id) => get("runs/get", { run_id: id }).then((r) => r.run);
export const setRunTag = (runId, key, value) => post("runs/set-tag", { run_id: runId, key, value });

/** Children of a run: the runs whose parent_run_id is `runId`. */
export function childRuns(experimentId, runId) {
  return searchRuns({ experimentIds: [experimentId], filter: `attributes.parent_run_id = ${quote(runId)}`, maxResults: 200 });
}

/**
 * Each run's series of `key`, downsampled by the server to about `maxPoints` points
 * (each bucket's minimum and maximum, plus the first and last point). Requests of
 * BULK_GROUP runs go out in parallel. Answers Map(run_id -> {steps, times, values}).
 */
export async function metricSeries(runIds, key, maxPoints, signal) {
  const points = Math.max(3, Math.min(BULK_MAX_POINTS, Math.round(maxPoints)));
  const groups = [];
  for (let i = 0; i < runIds.length; i += BULK_GROUP) groups.push(runIds.slice(i, i + BULK_GROUP));
  const replies = await Promise.all(
    groups.map((ids) => get("metrics/get-history-bulk-interval", { run_ids: ids, metric_key: key, max_results: points }, signal)),
  );
  const byRun = new Map(runIds.map((id) => [id, { steps: [], times: [], values: [] }]));
  for (const reply of replies) {
    for (const m of reply.metrics || []) {
      const series = byRun.get(m.run_id);
      if (!series) continue;
      series.steps.push(m.step);
      series.times.push(m.timestamp);
      series.values.push(typeof m.value === "number" ? m.value : Number(m.value));
    }
  }
  const out = new Map();
  for (const [id, s] of byRun) {
    out.set(id, { steps: Float64Array.from(s.steps), times: Float64Array.from(s.times), values: Float64Array.from(s.values) });
  }
  return out;
}

// Artifacts

export const listArtifacts = (runId, path, pageToken) =>
  get("artifacts/list", { run_id: runId, path: path || undefined, page_token: pageToken || undefined });

/** The proxy URL of a file of a run, or "" when the run's artifacts are not proxied. */
export function artifactUrl(artifactUri, path) {
  const prefix = "mlflow-artifacts:";
  if (!artifactUri || !artifactUri.startsWith(prefix)) return "";
  let rest = artifactUri.slice(prefix.length);
  if (rest.startsWith("//")) rest = rest.slice(rest.indexOf("/", 2) + 1);
  const segments = [...rest.split("/"), ...path.split("/")].filter((s) => s !== "");
  return ARTIFACTS + segments.map(encodeURIComponent).join("/");
}

// Model registry

export function searchModels({ filter = "", maxResults = 1000, pageToken = "" } = {}) {
  return get("registered-models/search", {
    filter,
    max_results: maxResults,
    page_token: pageToken,
    order_by: "name ASC",
  });
}
export const getModel = (name) => get("registered-models/get", { name }).then((r) => r.registered_model);
export const searchVersions = (filter, maxResults = 1000, pageToken = "") =>
  get("model-versions/search", { filter, max_results: maxResults, page_token: pageToken });
export const getVersion = (name, version) => get("model-versions/get", { name, version }).then((r) => r.model_version);
export const transitionStage = (name, version, stage) =>
  post("model-versions/transition-stage", { name, version: String(version), stage, archive_existing_versions: false });

/** A string literal of the search language. */
export function quote(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** A field name of the search language, backticked (any key can be written this way). */
export function field(kind, key) {
  return `${kind}.\`${key.replace(/`/g, "``")}\``;
}
