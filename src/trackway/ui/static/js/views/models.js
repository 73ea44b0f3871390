// #/models?q=..., #/models/<name>, #/models/<name>/versions/<version>
// The model registry: models, their versions, aliases and stages, and the lineage link
// from each version back to the run that produced it.

import * as api from "../api.js";
import { h, replace, toast } from "../dom.js";
import * as fmt from "../format.js";
import { link, modelLink, runLink, versionLink } from "../nav.js";

const STAGES = ["None", "Staging", "Production", "Archived"];

export function render(main, ctx) {
  const [name, version] = ctx.args;
  if (name && version) return versionPage(main, ctx, name, version);
  if (name) return modelPage(main, ctx, name);
  return listPage(main, ctx);
}

function stage(s) {
  return h("span", { class: "badge", text: s || "None" });
}

function aliasBadges(aliases) {
  return (aliases || []).map((a) => h("span", { class: "badge mono", text: `@${typeof a === "string" ? a : a.alias}` }));
}

async function listPage(main, ctx) {
  const q = ctx.query.get("q") || "";
  const input = h("input", { type: "search", value: q, placeholder: "Search models by name", "aria-label": "Search models by name" });
  const error = h("div", { class: "filter-error", role: "alert" });
  const body = h("tbody");
  const load = async () => {
    error.textContent = "";
    body.replaceChildren();
    const text = input.value.trim();
    try {
      const page = await api.searchModels({ filter: text ? `name ILIKE ${api.quote(`%${text}%`)}` : "" });
      if (!ctx.alive()) return;
      const models = page.registered_models || [];
      for (const m of models) {
        body.appendChild(
          h(
            "tr",
            null,
            h("td", null, h("a", { href: modelLink(m.name), text: m.name })),
            h("td", null, (m.latest_versions || []).map((v) => h("span", { class: "badge" }, h("a", { href: versionLink(m.name, v.version), text: `v${v.version}` }), ` ${v.current_stage || "None"}`))),
            h("td", null, (m.aliases || []).map((a) => h("span", { class: "badge mono" }, `@${a.alias} → `, h("a", { href: versionLink(m.name, a.version), text: `v${a.version}` })))),
            h("td", { class: "nowrap", text: fmt.time(m.last_updated_timestamp) }),
            h("td", { class: "value", text: m.description || "" }),
          ),
        );
      }
      if (!models.length) body.appendChild(h("tr", null, h("td", { colspan: 5, class: "muted", text: "No registered models." })));
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const form = h(
    "form",
    {
      class: "filter-form",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        ctx.setQuery({ q: input.value.trim() });
        load();
      },
    },
    input,
    h("button", { type: "submit", text: "Search" }),
  );
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", { text: "Registered models" })),
    h("div", { class: "toolbar" }, form),
    error,
    h(
      "table",
      { class: "grid", id: "models" },
      h("thead", null, h("tr", null, ["Name", "Latest versions", "Aliases", "Last updated", "Description"].map((t) => h("th", { text: t })))),
      body,
    ),
  );
  await load();
}

async function modelPage(main, ctx, name) {
  const model = await api.getModel(name);
  if (!ctx.alive()) return;
  const versions = [];
  let token = "";
  do {
    const page = await api.searchVersions(`name = ${api.quote(name)}`, 1000, token);
    versions.push(...(page.model_versions || []));
    token = page.next_page_token || "";
  } while (token);
  if (!ctx.alive()) return;
  versions.sort((a, b) => Number(b.version) - Number(a.version));
  const aliasesOf = new Map();
  for (const a of model.aliases || []) aliasesOf.set(String(a.version), [...(aliasesOf.get(String(a.version)) || []), a.alias]);
  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: link("/models"), text: "Models" }), " / "),
    h("div", { class: "page-head" }, h("div", null, h("h1", { text: model.name }), h("span", { class: "muted", text: `Updated ${fmt.time(model.last_updated_timestamp)}` }))),
    model.description ? h("p", { class: "value", text: model.description }) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", { text: "Aliases" }),
      h("dd", null, (model.aliases || []).length ? model.aliases.map((a) => h("span", { class: "badge mono" }, `@${a.alias} → `, h("a", { href: versionLink(name, a.version), text: `v${a.version}` }))) : h("span", { class: "muted", text: "none" })),
      h("dt", { text: "Tags" }),
      h("dd", null, (model.tags || []).length ? model.tags.map((t) => h("span", { class: "badge", text: `${t.key}=${t.value}` })) : h("span", { class: "muted", text: "none" })),
    ),
    h("h2", { text: `Versions (${versions.length})` }),
    h(
      "table",
      { class: "grid", id: "model-versions" },
      h("thead", null, h("tr", null, ["Version", "Stage", "Aliases", "Status", "Created", "Run (lineage)", "Source"].map((t) => h("th", { text: t })))),
      h(
        "tbody",
        null,
        versions.map((v) =>
          h(
            "tr",
            null,
            h("td", null, h("a", { href: versionLink(name, v.version), text: `v${v.version}` })),
            h("td", null, stage(v.current_stage)),
            h("td", null, aliasBadges(aliasesOf.get(String(v.version)))),
            h("td", { text: v.status }),
            h("td", { class: "nowrap", text: fmt.time(v.creation_timestamp) }),
            h("td", null, v.run_id ? h("a", { class: "mono", href: runLink(v.run_id), text: fmt.shortId(v.run_id) }) : h("span", { class: "muted", text: "—" })),
            h("td", { class: "value mono", text: v.source }),
          ),
        ),
      ),
    ),
  );
}

async function versionPage(main, ctx, name, version) {
  const v = await api.getVersion(name, version);
  if (!ctx.alive()) return;
  const run = v.run_id ? await api.getRun(v.run_id).catch(() => null) : null;
  if (!ctx.alive()) return;
  const stageSelect = h("select", { "aria-label": "Stage" }, STAGES.map((s) => h("option", { value: s, selected: s === (v.current_stage || "None"), text: s })));
  const move = h("button", {
    type: "button",
    text: "Move to stage",
    onclick: async () => {
      try {
        await api.transitionStage(name, version, stageSelect.value);
        toast(`v${version} is now in ${stageSelect.value}`);
        dispatchEvent(new HashChangeEvent("hashchange"));
      } catch (err) {
        toast(err.message, true);
      }
    },
  });
  replace(
    main,
    h("div", { class: "crumbs" }, h("a", { href: link("/models"), text: "Models" }), " / ", h("a", { href: modelLink(name), text: name }), " / "),
    h("div", { class: "page-head" }, h("div", null, h("h1", { text: `${name} v${v.version}` }), stage(v.current_stage), " ", aliasBadges(v.aliases))),
    h(
      "dl",
      { class: "facts", id: "version-facts" },
      h("dt", { text: "Stage" }),
      h("dd", { class: "toolbar", style: { margin: 0 } }, stageSelect, move),
      h("dt", { text: "Status" }),
      h("dd", { text: v.status }),
      h("dt", { text: "Created" }),
      h("dd", { text: fmt.time(v.creation_timestamp) }),
      h("dt", { text: "Updated" }),
      h("dd", { text: fmt.time(v.last_updated_timestamp) }),
      h("dt", { text: "Source" }),
      h("dd", { class: "mono", text: v.source }),
      h("dt", { text: "Run (lineage)" }),
      h(
        "dd",
        null,
        v.run_id
          ? [h("a", { href: runLink(v.run_id), id: "lineage-run", text: run ? fmt.runName(run) : v.run_id }), run ? h("span", { class: "muted" }, " in experiment ", h("a", { href: `#/experiments/${encodeURIComponent(run.info.experiment_id)}`, text: run.info.experiment_id })) : ""]
          : h("span", { class: "muted", text: "not linked to a run" }),
      ),
      h("dt", { text: "Tags" }),
      h("dd", null, (v.tags || []).length ? v.tags.map((t) => h("span", { class: "badge", text: `${t.key}=${t.value}` })) : h("span", { class: "muted", text: "none" })),
      h("dt", { text: "Description" }),
      h("dd", { class: "value", text: v.description || "—" }),
    ),
  );
}
