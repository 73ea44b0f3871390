"""MLflow 3's `/mlflow/logged-models` endpoints over the `LoggedModels` shim.

The model id is part of the path, so these routes are matched by `route()` rather than
by the gateway's table of fixed paths.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from trackway.errors import invalid
from trackway.rest.fields import Fields, pairs
from trackway.rest.logged_models import STATUSES, LoggedModels

Handler = Callable[[Fields], dict[str, Any]]
PREFIX = "logged-models"


class LoggedModelRoutes:
    def __init__(self, models: LoggedModels) -> None:
        self._m = models

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", PREFIX, self.create),
            ("POST", f"{PREFIX}/search", self.search),
        ]

    def route(self, method: str, tail: str) -> Handler | None:
        """The handler for `logged-models/<id>[/tags[/<key>]|/params]`, or None."""
        if not tail.startswith(PREFIX + "/"):
            return None
        parts = tail[len(PREFIX) + 1 :].split("/", 2)
        model_id = parts[0]
        rest = parts[1:]
        table: dict[tuple[str, int, str], Callable[..., dict[str, Any]]] = {
            ("GET", 0, ""): self.get,
            ("PATCH", 0, ""): self.finalize,
            ("DELETE", 0, ""): self.delete,
            ("PATCH", 1, "tags"): self.set_tags,
            ("POST", 1, "params"): self.log_params,
            ("DELETE", 2, "tags"): self.delete_tag,
        }
        handler = table.get((method, len(rest), rest[0] if rest else ""))
        if handler is None or not model_id:
            return None
        args = [model_id] + ([rest[1]] if len(rest) == 2 else [])
        return partial(handler, *args)

    def _model(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {"model": self._m.to_json(doc)}

    def create(self, f: Fields) -> dict[str, Any]:
        doc = self._m.create(
            f.text("experiment_id", required=True),
            f.text("name"),
            f.text("model_type"),
            f.text("source_run_id"),
            pairs(f.objects("params"), "params"),
            pairs(f.objects("tags"), "tags"),
        )
        return self._model(doc)

    def search(self, f: Fields) -> dict[str, Any]:
        if f.objects("datasets") or f.objects("order_by"):
            raise invalid("datasets", "datasets and order_by are not supported on logged models")
        docs, token = self._m.search(
            f.texts("experiment_ids"),
            f.text("filter"),
            f.integer("max_results"),
            f.text("page_token"),
        )
        out: dict[str, Any] = {"models": [self._m.to_json(d) for d in docs]}
        if token:
            out["next_page_token"] = token
        return out

    def get(self, model_id: str, f: Fields) -> dict[str, Any]:
        return self._model(self._m.get(model_id))

    def finalize(self, model_id: str, f: Fields) -> dict[str, Any]:
        value = f.raw("status")
        if isinstance(value, int) and 0 < value < len(STATUSES) + 1:
            value = STATUSES[value - 1]
        return self._model(self._m.finalize(model_id, str(value or "")))

    def delete(self, model_id: str, f: Fields) -> dict[str, Any]:
        self._m.delete(model_id)
        return {}

    def set_tags(self, model_id: str, f: Fields) -> dict[str, Any]:
        return self._model(self._m.set_tags(model_id, pairs(f.objects("tags"), "tags")))

    def delete_tag(self, model_id: str, key: str, f: Fields) -> dict[str, Any]:
        self._m.delete_tag(model_id, key)
        return {}

    def log_params(self, model_id: str, f: Fields) -> dict[str, Any]:
        self._m.log_params(model_id, pairs(f.objects("params"), "params"))
        return {}
