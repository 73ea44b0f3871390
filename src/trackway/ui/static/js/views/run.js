// #/runs/<id>?tab=overview|artifacts&path=<artifact>
// A run: overview (status, times, duration, user, source, git commit, parent and child
// runs, registered model versions), an editable Markdown note (the tag
// mlflow.note.content, as MLflow keeps it), params, metrics with sparklines, tags,
// datasets, and the artifact browser.

import * as api from "../api.js";
import { h, replace, toast } from "../dom.js";
import * as fmt from "../format.js";
import { renderMarkdown } from "../markdown.js";
import { chartLink, experimentLink, runLink, versionLink } from "../nav.js";
import { sparklines } from "../charts/sparkline.js";
import { artifactBrowser } from "./artifacts.js";

const SYSTEM_TAG = /^mlflow\./;

export async function render(main, ctx) {
  const runId = ctx.args[0];
  const run = await api.getRun(runId);
  if (!ctx.alive()) return undefined;
  const experiment = await api.getExperiment(run.info.experiment_id).catch(() => null);
  if (!ctx.alive()) return undefined;
  const info = run.info;
  const tags = Object.fromEntries((run.data.tags || []).map((t) => [t.key, t.value]));
  const tab = ctx.query.get("tab") === "artifacts" ? "artifacts" : "overview";
  const metricKeys = (run.data.metrics || []).map((m) => m.key).sort();

  const tabLink = (name, label) =>
    h("a", { href: runLink(runId, { tab: name === "overview" ? "" : name }), "aria-current": tab === name ? "page" : undefined, text: label });
  const actions = h(
    "div",
    { class: "actions" },
    metricKeys.length ? h("a", { class: "button", href: chartLink([runId], metricKeys[0]), text: "Chart metrics" }) : null,
  );
  const content = h("div");
  replace(
    main,
    h(
      "div",
      { class: "crumbs" },
      h("a", { href: "#/experiments", text: "Experiments" }),
      " / ",
      h("a", { href: experimentLink(info.experiment_id), text: experiment ? experiment.name : info.experiment_id }),
      " / ",
    ),
    h("div", { class: "page-head" }, h("div", null, h("h1", { text: fmt.runName(run) }), h("span", { class: `status ${info.status}`, text: info.status }), " ", h("span", { class: "muted mono", text: runId })), actions),
    h("nav", { class: "tabs", "aria-label": "Run sections" }, tabLink("overview", "Overview"), tabLink("artifacts", "Artifacts")),
    content,
  );

  if (tab === "artifacts") {
    content.appendChild(artifactBrowser(run, ctx));
    return undefined;
  }

  const metricsCard = metricsSection(run);
  const cleanup = sparklines(runId, metricsCard.querySelectorAll("canvas.spark"), ctx.signal);
  content.appendChild(
    h(
      "div",
      { class: "cards" },
      h("section", { class: "card" }, h("h2", { text: "Overview" }), overview(run, tags, ctx)),
      h("section", { class: "card" }, h("h2", { text: "Note" }), note(run, tags)),
      h("section", { class: "card" }, h("h2", { text: `Parameters (${(run.data.params || []).length})` }), paramsSection(run)),
      metricsCard,
      h("section", { class: "card" }, h("h2", { text: "Tags" }), tagsSection(tags)),
      h("section", { class: "card" }, h("h2", { text: "Datasets" }), datasets(run)),
    ),
  );
  return cleanup;
}

function overview(run, tags, ctx) {
  const info = run.info;
  const facts = h("dl", { class: "facts" });
  const add = (label, value) => facts.append(h("dt", { text: label }), h("dd", null, value === undefined || value === "" ? h("span", { class: "muted", text: "—" }) : value));
  add("Status", h("span", { class: `status ${info.status}`, text: info.status }));
  add("Started", fmt.time(info.start_time));
  add("Ended", info.end_time ? fmt.time(info.end_time) : "");
  add("Duration", fmt.runDuration(info));
  add("User", info.user_id || tags["mlflow.user"] || "");
  const source = tags["mlflow.source.name"];
  add("Source", source ? h("span", { class: "mono", text: source }) : "");
  if (tags["mlflow.source.type"]) add("Source type", tags["mlflow.source.type"]);
  const commit = tags["mlflow.source.git.commit"];
  add("Git commit", commit ? h("span", { class: "mono", title: commit, text: commit.slice(0, 12) }) : "");
  if (tags["mlflow.source.git.branch"]) add("Git branch", tags["mlflow.source.git.branch"]);
  if (tags["mlflow.source.git.repoURL"]) add("Repository", h("span", { class: "mono", text: tags["mlflow.source.git.repoURL"] }));
  const parent = tags[api.PARENT_TAG];
  add("Parent run", parent ? h("a", { href: runLink(parent), class: "mono", text: fmt.shortId(parent) }) : "");
  const children = h("dd", null, h("span", { class: "muted", text: "…" }));
  facts.append(h("dt", { text: "Child runs" }), children);
  const models = h("dd", null, h("span", { class: "muted", text: "…" }));
  facts.append(h("dt", { text: "Registered as" }), models);
  add("Artifacts", h("span", { class: "mono", text: info.artifact_uri }));

  api
    .childRuns(info.experiment_id, info.run_id)
    .then((page) => {
      if (!ctx.alive()) return;
      const runs = page.runs || [];
      replace(
        children,
        runs.length
          ? runs.map((r, i) => [i ? ", " : "", h("a", { href: runLink(r.info.run_id), text: fmt.runName(r) })])
          : h("span", { class: "muted", text: "none" }),
        page.next_page_token ? " …" : "",
      );
    })
    .catch((err) => replace(children, h("span", { class: "error", text: err.message })));
  api
    .searchVersions(`run_id = ${api.quote(info.run_id)}`, 100)
    .then((page) => {
      if (!ctx.alive()) return;
      const versions = page.model_versions || [];
      replace(
        models,
        versions.length
          ? versions.map((v, i) => [i ? ", " : "", h("a", { href: versionLink(v.name, v.version), text: `${v.name} v${v.version}` })])
          : h("span", { class: "muted", text: "no model version" }),
      );
    })
    .catch(() => replace(models, h("span", { class: "muted", text: "—" })));
  return facts;
}

function note(run, tags) {
  const box = h("div", { id: "run-note" });
  let text = tags[api.NOTE_TAG] || "";
  const view = () => {
    const edit = h("button", { type: "button", text: text ? "Edit note" : "Add a note", onclick: editor });
    replace(box, text ? h("div", { class: "note" }, renderMarkdown(text)) : h("p", { class: "muted", text: "No note yet. Notes take Markdown." }), h("p", null, edit));
  };
  const editor = () => {
    const area = h("textarea", { "aria-label": "Note (Markdown)", value: text });
    const preview = h("div", { class: "note", "aria-label": "Preview" }, renderMarkdown(text));
    area.addEventListener("input", () => replace(preview, renderMarkdown(area.value)));
    const save = h("button", {
      type: "button",
      class: "primary",
      text: "Save",
      onclick: async () => {
        save.disabled = true;
        try {
          await api.setRunTag(run.info.run_id, api.NOTE_TAG, area.value);
          text = area.value;
          toast("Note saved");
          view();
        } catch (err) {
          toast(err.message, true);
          save.disabled = false;
        }
      },
    });
    replace(box, h("div", { class: "note-edit" }, area, preview), h("p", { class: "toolbar" }, save, h("button", { type: "button", text: "Cancel", onclick: view })));
    area.focus();
  };
  view();
  return box;
}

function filterable(rows, placeholder) {
  // A find box for long lists of params or tags.
  if (rows.length < 15) return null;
  const input = h("input", { type: "search", placeholder, "aria-label": placeholder });
  input.addEventListener("input", () => {
    const q = input.value.toLowerCase();
    for (const tr of rows) tr.hidden = !tr.dataset.key.toLowerCase().includes(q);
  });
  return h("p", null, input);
}

function paramsSection(run) {
  const params = [...(run.data.params || [])].sort((a, b) => a.key.localeCompare(b.key));
  if (!params.length) return h("p", { class: "muted", text: "No parameters." });
  const rows = params.map((p) => h("tr", { dataset: { key: p.key } }, h("th", { scope: "row", class: "mono", text: p.key }), h("td", { class: "value mono", text: p.value })));
  return h("div", null, filterable(rows, "Find a parameter"), h("table", { class: "grid kv", id: "run-params" }, h("tbody", null, rows)));
}

function metricsSection(run) {
  const metrics = [...(run.data.metrics || [])].sort((a, b) => a.key.localeCompare(b.key));
  const runId = run.info.run_id;
  const card = h("section", { class: "card" }, h("h2", { text: `Metrics (${metrics.length})` }));
  if (!metrics.length) {
    card.appendChild(h("p", { class: "muted", text: "No metrics." }));
    return card;
  }
  const rows = metrics.map((m) =>
    h(
      "tr",
      { dataset: { key: m.key } },
      h("th", { scope: "row", class: "mono" }, h("a", { href: chartLink([runId], m.key), title: "Open the chart", text: m.key })),
      h("td", { class: "num", title: String(m.value), text: fmt.number(m.value) }),
      h("td", { class: "num muted", text: `step ${m.step}` }),
      h("td", null, h("canvas", { class: "spark", dataset: { metric: m.key }, role: "img", "aria-label": `History of ${m.key}` })),
    ),
  );
  card.append(
    filterable(rows, "Find a metric") || "",
    h("table", { class: "grid kv", id: "run-metrics" }, h("thead", null, h("tr", null, h("th", { text: "Metric" }), h("th", { text: "Latest" }), h("th", { text: "Step" }), h("th", { text: "History" }))), h("tbody", null, rows)),
  );
  return card;
}

function tagsSection(tags) {
  const entries = Object.entries(tags).filter(([k]) => k !== api.NOTE_TAG).sort(([a], [b]) => a.localeCompare(b));
  const user = entries.filter(([k]) => !SYSTEM_TAG.test(k));
  const system = entries.filter(([k]) => SYSTEM_TAG.test(k));
  const table = (items) => h("table", { class: "grid kv" }, h("tbody", null, items.map(([k, v]) => h("tr", null, h("th", { scope: "row", class: "mono", text: k }), h("td", { class: "value", text: v })))));
  return h(
    "div",
    { id: "run-tags" },
    user.length ? table(user) : h("p", { class: "muted", text: "No tags." }),
    system.length ? h("details", null, h("summary", { text: `System tags (${system.length})` }), table(system)) : null,
  );
}

function datasets(run) {
  const inputs = (run.inputs && run.inputs.dataset_inputs) || [];
  if (!inputs.length) return h("p", { class: "muted", text: "No datasets." });
  return h(
    "table",
    { class: "grid", id: "run-datasets" },
    h("thead", null, h("tr", null, ["Name", "Digest", "Source", "Context"].map((t) => h("th", { text: t })))),
    h(
      "tbody",
      null,
      inputs.map((item) => {
        const ds = item.dataset || {};
        const context = (item.tags || []).map((t) => h("span", { class: "badge", text: `${t.key}=${t.value}` }));
        return h(
          "tr",
          null,
          h("td", { text: ds.name }),
          h("td", { class: "mono", text: ds.digest }),
          h("td", { class: "value", title: ds.source || "" }, ds.source_type ? h("span", { class: "badge", text: ds.source_type }) : "", shorten(ds.source || "", 120)),
          h("td", null, context),
        );
      }),
    ),
  );
}

function shorten(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

