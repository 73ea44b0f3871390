"""MLflow 3's `/mlflow/logged-models` endpoints over LoggedModelService.

Handlers translate MLflow's JSON and make one service call. The model id is part of the
path, so these routes are matched by `route()` rather than by the gateway's table of
fixed paths. MLflow's shapes: statuses are `LOGGED_MODEL_<STATUS>` (or their enum
numbers), search orders are `{field_name, ascending}` objects, artifact URIs are
`mlflow-artifacts:/` URIs, and optional fields are left out when empty.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from trackway.errors import invalid
from trackway.rest import jsonio
from trackway.rest.fields import Fields, pairs
from trackway.rest.uris import ArtifactUris
from trackway.tracking.logged_model_entities import DatasetFilter, LoggedModel, ModelMetric
from trackway.tracking.logged_models import LoggedModelService

Handler = Callable[[Fields], dict[str, Any]]
PREFIX = "logged-models"
_STATUS_PREFIX = "LOGGED_MODEL_"
# MLflow's LoggedModelStatus enum numbers.
_STATUS_NUMBERS = {1: "PENDING", 2: "READY", 3: "UPLOAD_FAILED"}


class LoggedModelRoutes:
    def __init__(self, models: LoggedModelService, uris: ArtifactUris) -> None:
        self._m = models
        self._uris = uris

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

    # JSON

    def model_json(self, model: LoggedModel) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp,
            "last_updated_timestamp_ms": model.last_updated_timestamp,
            "artifact_uri": self._uris.to_client(model.artifact_location),
            "status": _STATUS_PREFIX + model.status,
            "tags": [{"key": k, "value": v} for k, v in model.tags.items()],
        }
        for name in ("model_type", "source_run_id", "status_message"):
            if getattr(model, name):
                info[name] = getattr(model, name)
        data = {
            "params": [{"key": k, "value": v} for k, v in model.params.items()],
            "metrics": [_metric_json(model.model_id, m) for m in model.metrics],
        }
        return {"info": info, "data": data}

    def _model(self, model: LoggedModel) -> dict[str, Any]:
        return {"model": self.model_json(model)}

    # Handlers

    def create(self, f: Fields) -> dict[str, Any]:
        model = self._m.create_logged_model(
            f.text("experiment_id", required=True),
            f.text("name"),
            f.text("model_type"),
            f.text("source_run_id"),
            pairs(f.objects("params"), "params"),
            pairs(f.objects("tags"), "tags"),
        )
        return self._model(model)

    def search(self, f: Fields) -> dict[str, Any]:
        page = self._m.search_logged_models(
            f.texts("experiment_ids"),
            f.text("filter"),
            [_order_clause(i, item) for i, item in enumerate(f.objects("order_by"))],
            [_dataset(i, item) for i, item in enumerate(f.objects("datasets"))],
            f.integer("max_results"),
            f.text("page_token"),
        )
        out: dict[str, Any] = {"models": [self.model_json(m) for m in page.items]}
        if page.next_page_token:
            out["next_page_token"] = page.next_page_token
        return out

    def get(self, model_id: str, f: Fields) -> dict[str, Any]:
        return self._model(self._m.get_logged_model(model_id, f.boolean("allow_deleted")))

    def finalize(self, model_id: str, f: Fields) -> dict[str, Any]:
        return self._model(self._m.finalize_logged_model(model_id, _status(f.raw("status"))))

    def delete(self, model_id: str, f: Fields) -> dict[str, Any]:
        self._m.delete_logged_model(model_id)
        return {}

    def set_tags(self, model_id: str, f: Fields) -> dict[str, Any]:
        model = self._m.set_logged_model_tags(model_id, pairs(f.objects("tags"), "tags"))
        return self._model(model)

    def delete_tag(self, model_id: str, key: str, f: Fields) -> dict[str, Any]:
        self._m.delete_logged_model_tag(model_id, key)
        return {}

    def log_params(self, model_id: str, f: Fields) -> dict[str, Any]:
        self._m.log_logged_model_params(model_id, pairs(f.objects("params"), "params"))
        return {}


def _metric_json(model_id: str, metric: ModelMetric) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": metric.key,
        "value": jsonio.number(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
        "model_id": model_id,
    }
    for name in ("run_id", "dataset_name", "dataset_digest"):
        if getattr(metric, name):
            out[name] = getattr(metric, name)
    return out


def _status(value: Any) -> str:
    """MLflow's status, `LOGGED_MODEL_READY` or its enum number, as the service's name;
    the service decides which statuses a request may set."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _STATUS_NUMBERS.get(value, str(value))
    if isinstance(value, str):
        return value.removeprefix(_STATUS_PREFIX)
    if value is None:
        raise invalid("status", "Missing value for required parameter 'status'")
    raise invalid("status", f"must be a string or a number, not {type(value).__name__}")


def _order_clause(i: int, item: dict[str, Any]) -> str:
    """`{field_name, ascending}` as the clause `<field> ASC|DESC`."""
    name = item.get("field_name")
    if not isinstance(name, str) or not name:
        raise invalid(f"order_by[{i}].field_name", "is required")
    ascending = item.get("ascending", True)
    if not isinstance(ascending, bool):
        raise invalid(f"order_by[{i}].ascending", "must be true or false")
    if item.get("dataset_name") or item.get("dataset_digest"):
        raise invalid(
            f"order_by[{i}].dataset_name",
            "ordering by a metric on one dataset is not supported; limit the search's metrics "
            "to datasets with `datasets` instead",
        )
    entity, dot, key = name.partition(".")
    if dot and key:
        # The key as one quoted token, whatever characters it holds.
        name = f"{entity}.`{key.replace('`', '``')}`"
    return f"{name} {'ASC' if ascending else 'DESC'}"


def _dataset(i: int, item: dict[str, Any]) -> DatasetFilter:
    name, digest = item.get("dataset_name") or "", item.get("dataset_digest") or ""
    if not isinstance(name, str) or not isinstance(digest, str):
        raise invalid(f"datasets[{i}]", "dataset_name and dataset_digest must be strings")
    return DatasetFilter(name, digest)
