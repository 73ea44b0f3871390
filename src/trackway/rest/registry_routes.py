"""MLflow's model registry endpoints (`/api/2.0/mlflow/registered-models|model-versions/...`).

Handlers translate and make one RegistryService call. Two translations are specific to
MLflow's clients: artifact URIs are `mlflow-artifacts:/` both ways, and an MLflow 3
source `models:/<logged model id>` is replaced by that logged model's artifact location,
which the service then checks like any other source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from trackway.errors import invalid
from trackway.registry.entities import ModelVersion, RegisteredModel
from trackway.registry.service import RegistryService
from trackway.rest.fields import Fields, pairs
from trackway.rest.uris import ArtifactUris

Handler = Callable[[Fields], dict[str, Any]]
PROMPT_TAG = "mlflow.prompt.is_prompt"
_PROMPT_CLAUSE = re.compile(
    r"(^|\s+AND\s+)tags?\.(`mlflow\.prompt\.is_prompt`|\"mlflow\.prompt\.is_prompt\"|"
    r"mlflow\.prompt\.is_prompt)\s*!=\s*'true'\s*$",
    re.IGNORECASE,
)


class RegistryRoutes:
    def __init__(self, registry: RegistryService, uris: ArtifactUris):
        self._r = registry
        self._uris = uris

    def routes(self) -> list[tuple[str, str, Handler]]:
        rm, mv = "registered-models", "model-versions"
        return [
            ("POST", f"{rm}/create", self.create_model),
            ("POST", f"{rm}/rename", self.rename_model),
            ("PATCH", f"{rm}/update", self.update_model),
            ("DELETE", f"{rm}/delete", self.delete_model),
            ("GET", f"{rm}/get", self.get_model),
            ("GET", f"{rm}/search", self.search_models),
            ("POST", f"{rm}/get-latest-versions", self.get_latest_versions),
            ("GET", f"{rm}/get-latest-versions", self.get_latest_versions),
            ("POST", f"{rm}/set-tag", self.set_model_tag),
            ("DELETE", f"{rm}/delete-tag", self.delete_model_tag),
            ("POST", f"{rm}/alias", self.set_alias),
            ("DELETE", f"{rm}/alias", self.delete_alias),
            ("GET", f"{rm}/alias", self.get_by_alias),
            ("POST", f"{mv}/create", self.create_version),
            ("PATCH", f"{mv}/update", self.update_version),
            ("POST", f"{mv}/transition-stage", self.transition_stage),
            ("DELETE", f"{mv}/delete", self.delete_version),
            ("GET", f"{mv}/get", self.get_version),
            ("GET", f"{mv}/search", self.search_versions),
            ("GET", f"{mv}/get-download-uri", self.get_download_uri),
            ("POST", f"{mv}/set-tag", self.set_version_tag),
            ("DELETE", f"{mv}/delete-tag", self.delete_version_tag),
        ]

    # JSON

    def version_json(self, v: ModelVersion) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": v.name,
            "version": str(v.version),
            "creation_timestamp": v.creation_timestamp,
            "last_updated_timestamp": v.last_updated_timestamp,
            "current_stage": v.current_stage,
            "description": v.description,
            "source": self._uris.to_client(v.source),
            "run_id": v.run_id,
            "status": v.status,
            "tags": [{"key": k, "value": val} for k, val in v.tags.items()],
            "run_link": v.run_link,
            "aliases": list(v.aliases),
        }
        if v.status_message:
            out["status_message"] = v.status_message
        return out

    def model_json(self, m: RegisteredModel) -> dict[str, Any]:
        return {
            "name": m.name,
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "description": m.description,
            "latest_versions": [self.version_json(v) for v in m.latest_versions],
            "tags": [{"key": k, "value": v} for k, v in m.tags.items()],
            "aliases": [{"alias": a, "version": str(n)} for a, n in m.aliases.items()],
        }

    # Registered models

    def create_model(self, f: Fields) -> dict[str, Any]:
        model = self._r.create_registered_model(
            f.text("name", required=True), f.text("description"), pairs(f.objects("tags"), "tags")
        )
        return {"registered_model": self.model_json(model)}

    def rename_model(self, f: Fields) -> dict[str, Any]:
        model = self._r.rename_registered_model(
            f.text("name", required=True), f.text("new_name", required=True)
        )
        return {"registered_model": self.model_json(model)}

    def update_model(self, f: Fields) -> dict[str, Any]:
        name = f.text("name", required=True)
        if f.has("description"):
            model = self._r.update_registered_model(name, f.text("description"))
        else:
            model = self._r.get_registered_model(name)
        return {"registered_model": self.model_json(model)}

    def delete_model(self, f: Fields) -> dict[str, Any]:
        self._r.delete_registered_model(f.text("name", required=True))
        return {}

    def get_model(self, f: Fields) -> dict[str, Any]:
        model = self._r.get_registered_model(f.text("name", required=True))
        return {"registered_model": self.model_json(model)}

    def search_models(self, f: Fields) -> dict[str, Any]:
        """MLflow 3's client appends ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every
        search, meaning "not a prompt", which includes models without that tag. Trackway's
        `!=` only matches models that have the tag, so the clause is taken out and applied
        here, to the page."""
        filter_text, no_prompts = _without_prompt_clause(f.text("filter"))
        page = self._r.search_registered_models(
            filter_text, f.texts("order_by"), f.integer("max_results"), f.text("page_token")
        )
        items = [m for m in page.items if not (no_prompts and m.tags.get(PROMPT_TAG) == "true")]
        out: dict[str, Any] = {"registered_models": [self.model_json(m) for m in items]}
        if page.next_page_token:
            out["next_page_token"] = page.next_page_token
        return out

    def get_latest_versions(self, f: Fields) -> dict[str, Any]:
        found = self._r.get_latest_versions(f.text("name", required=True), f.texts("stages"))
        return {"model_versions": [self.version_json(v) for v in found]}

    def set_model_tag(self, f: Fields) -> dict[str, Any]:
        self._r.set_registered_model_tag(
            f.text("name", required=True), f.text("key", required=True), f.text("value")
        )
        return {}

    def delete_model_tag(self, f: Fields) -> dict[str, Any]:
        self._r.delete_registered_model_tag(
            f.text("name", required=True), f.text("key", required=True)
        )
        return {}

    # Aliases

    def set_alias(self, f: Fields) -> dict[str, Any]:
        self._r.set_alias(
            f.text("name", required=True), f.text("alias", required=True), _version(f)
        )
        return {}

    def delete_alias(self, f: Fields) -> dict[str, Any]:
        self._r.delete_alias(f.text("name", required=True), f.text("alias", required=True))
        return {}

    def get_by_alias(self, f: Fields) -> dict[str, Any]:
        found = self._r.get_model_version_by_alias(
            f.text("name", required=True), f.text("alias", required=True)
        )
        return {"model_version": self.version_json(found)}

    # Model versions

    def create_version(self, f: Fields) -> dict[str, Any]:
        source = self._uris.from_client(f.text("source", required=True))
        created = self._r.create_model_version(
            f.text("name", required=True),
            source,
            run_id=f.text("run_id"),
            run_link=f.text("run_link"),
            description=f.text("description"),
            tags=pairs(f.objects("tags"), "tags"),
        )
        return {"model_version": self.version_json(created)}

    def update_version(self, f: Fields) -> dict[str, Any]:
        name, version = f.text("name", required=True), _version(f)
        if f.has("description"):
            found = self._r.update_model_version(name, version, f.text("description"))
        else:
            found = self._r.get_model_version(name, version)
        return {"model_version": self.version_json(found)}

    def transition_stage(self, f: Fields) -> dict[str, Any]:
        found = self._r.transition_stage(
            f.text("name", required=True),
            _version(f),
            f.text("stage", required=True),
            f.boolean("archive_existing_versions"),
        )
        return {"model_version": self.version_json(found)}

    def delete_version(self, f: Fields) -> dict[str, Any]:
        self._r.delete_model_version(f.text("name", required=True), _version(f))
        return {}

    def get_version(self, f: Fields) -> dict[str, Any]:
        found = self._r.get_model_version(f.text("name", required=True), _version(f))
        return {"model_version": self.version_json(found)}

    def search_versions(self, f: Fields) -> dict[str, Any]:
        page = self._r.search_model_versions(
            f.text("filter"), f.texts("order_by"), f.integer("max_results"), f.text("page_token")
        )
        out: dict[str, Any] = {"model_versions": [self.version_json(v) for v in page.items]}
        if page.next_page_token:
            out["next_page_token"] = page.next_page_token
        return out

    def get_download_uri(self, f: Fields) -> dict[str, Any]:
        uri = self._r.get_download_uri(f.text("name", required=True), _version(f))
        return {"artifact_uri": self._uris.to_client(uri)}

    def set_version_tag(self, f: Fields) -> dict[str, Any]:
        self._r.set_model_version_tag(
            f.text("name", required=True),
            _version(f),
            f.text("key", required=True),
            f.text("value"),
        )
        return {}

    def delete_version_tag(self, f: Fields) -> dict[str, Any]:
        self._r.delete_model_version_tag(
            f.text("name", required=True), _version(f), f.text("key", required=True)
        )
        return {}


def _version(f: Fields) -> int:
    text = f.text("version", required=True)
    if not text.isdigit():
        raise invalid("version", f"{text[:40]!r} is not a version number")
    return int(text)


def _without_prompt_clause(filter_text: str) -> tuple[str, bool]:
    """The filter without MLflow's trailing "not a prompt" clause, and whether it had one."""
    match = _PROMPT_CLAUSE.search(filter_text)
    if match is None:
        return filter_text, False
    return filter_text[: match.start()].strip(), True
