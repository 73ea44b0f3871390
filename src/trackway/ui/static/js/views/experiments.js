// #/experiments?q=<name part>&deleted=1 — list, search, create, rename, delete, restore.

import * as api from "../api.js";
import { dialog, h, replace, toast } from "../dom.js";
import * as fmt from "../format.js";
import { experimentLink } from "../nav.js";

export async function render(main, ctx) {
  const q = ctx.query.get("q") || "";
  const deleted = ctx.query.get("deleted") === "1";

  const search = h("input", { type: "search", name: "q", value: q, placeholder: "Search experiments by name", "aria-label": "Search experiments by name" });
  const showDeleted = h("input", { type: "checkbox", checked: deleted });
  const error = h("div", { class: "filter-error", role: "alert" });
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true, text: "Load more" });
  const count = h("span", { class: "muted" });
  let token = "";

  const filter = () => {
    const text = search.value.trim();
    return text ? `name ILIKE ${api.quote(`%${text}%`)}` : "";
  };

  async function load(reset) {
    if (reset) {
      token = "";
      body.replaceChildren();
    }
    error.textContent = "";
    try {
      const page = await api.searchExperiments({
        filter: filter(),
        viewType: showDeleted.checked ? "DELETED_ONLY" : "ACTIVE_ONLY",
        pageToken: token,
      });
      if (!ctx.alive()) return;
      for (const exp of page.experiments || []) body.appendChild(row(exp));
      token = page.next_page_token || "";
      more.hidden = !token;
      count.textContent = `${body.children.length}${token ? "+" : ""} experiment${body.children.length === 1 ? "" : "s"}`;
      if (!body.children.length) {
        body.appendChild(h("tr", null, h("td", { colspan: 5, class: "muted", text: showDeleted.checked ? "No deleted experiments." : "No experiments yet: create one, or log a run." })));
      }
    } catch (err) {
      error.textContent = err.message;
    }
  }

  function row(exp) {
    const actions = showDeleted.checked
      ? [h("button", { type: "button", text: "Restore", onclick: () => restore(exp) })]
      : [
          h("button", { type: "button", text: "Rename", "aria-label": `Rename ${exp.name}`, onclick: () => rename(exp) }),
          h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${exp.name}`, onclick: () => remove(exp) }),
        ];
    return h(
      "tr",
      { dataset: { experimentId: exp.experiment_id } },
      h("td", null, showDeleted.checked ? h("span", { text: exp.name }) : h("a", { href: experimentLink(exp.experiment_id), text: exp.name })),
      h("td", { class: "mono", text: exp.experiment_id }),
      h("td", { class: "nowrap", text: fmt.time(exp.creation_time) }),
      h("td", { class: "nowrap", text: fmt.time(exp.last_update_time) }),
      h("td", { class: "nowrap" }, h("span", { class: "toolbar", style: { margin: "0" } }, actions)),
    );
  }

  async function create() {
    const name = h("input", { name: "name", required: true, maxlength: 500, "aria-label": "Experiment name", placeholder: "Experiment name" });
    const values = await dialog("Create experiment", [name], "Create");
    if (!values) return;
    try {
      const made = await api.createExperiment(values.name.trim());
      toast(`Created ${values.name.trim()}`);
      location.hash = experimentLink(made.experiment_id);
    } catch (err) {
      toast(err.message, true);
    }
  }

  async function rename(exp) {
    const name = h("input", { name: "name", required: true, maxlength: 500, value: exp.name, "aria-label": "New name" });
    const values = await dialog(`Rename ${exp.name}`, [name], "Rename");
    if (!values) return;
    try {
      await api.renameExperiment(exp.experiment_id, values.name.trim());
      toast("Renamed");
      load(true);
    } catch (err) {
      toast(err.message, true);
    }
  }

  async function remove(exp) {
    const values = await dialog(`Delete ${exp.name}?`, [h("p", { text: "Its runs are hidden with it. A deleted experiment can be restored until it is purged." })], "Delete", { danger: true });
    if (!values) return;
    try {
      await api.deleteExperiment(exp.experiment_id);
      toast(`Deleted ${exp.name}`);
      load(true);
    } catch (err) {
      toast(err.message, true);
    }
  }

  async function restore(exp) {
    try {
      await api.restoreExperiment(exp.experiment_id);
      toast(`Restored ${exp.name}`);
      load(true);
    } catch (err) {
      toast(err.message, true);
    }
  }

  const form = h(
    "form",
    {
      class: "filter-form",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        ctx.setQuery({ q: search.value.trim() });
        load(true);
      },
    },
    search,
    h("button", { type: "submit", text: "Search" }),
  );
  showDeleted.addEventListener("change", () => {
    ctx.setQuery({ deleted: showDeleted.checked ? "1" : "" });
    load(true);
  });
  more.addEventListener("click", () => load(false));

  replace(
    main,
    h("div", { class: "page-head" }, h("div", null, h("h1", { text: "Experiments" }), count), h("div", { class: "actions" }, h("button", { type: "button", class: "primary", text: "Create experiment", onclick: create }))),
    h("div", { class: "toolbar" }, form, h("label", null, showDeleted, "Show deleted")),
    error,
    h(
      "table",
      { class: "grid", id: "experiments" },
      h("thead", null, h("tr", null, h("th", { text: "Name" }), h("th", { text: "ID" }), h("th", { text: "Created" }), h("th", { text: "Last update" }), h("th", { text: "Actions" }))),
      body,
    ),
    more,
  );
  await load(true);
}
