"""MLflow's tracking endpoints (`/api/2.0/mlflow/experiments|runs|metrics|artifacts/...`).

Each handler reads the request's fields, makes one TrackingService call and writes
MLflow's JSON. Rules about input and state live in the service; what is here is only
translation, plus the two MLflow conventions that have no service call of their own:
`runs/log-model` appends to the `mlflow.log-model.history` tag, and metrics that name a
logged model go to that model (LoggedModelService).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackway.artifacts.service import ArtifactService, Scope
from trackway.errors import invalid
from trackway.rest import convert, jsonio
from trackway.rest.fields import Fields, pairs
from trackway.rest.uris import ArtifactUris
from trackway.tracking.entities import Dataset, DatasetInput, MetricColumns
from trackway.tracking.logged_model_entities import ModelMetric
from trackway.tracking.logged_models import LoggedModelService
from trackway.tracking.service import TrackingService

Handler = Callable[[Fields], dict[str, Any]]
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
# MLflow's bulk-interval endpoint takes at most this many points per run.
BULK_INTERVAL_MAX_RESULTS = 2500
BULK_INTERVAL_DEFAULT_RESULTS = 320


class TrackingRoutes:
    def __init__(
        self,
        tracking: TrackingService,
        artifacts: ArtifactService,
        models: LoggedModelService,
        uris: ArtifactUris,
    ) -> None:
        self._t = tracking
        self._artifacts = artifacts
        self._models = models
        self._uris = uris

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "experiments/create", self.create_experiment),
            ("GET", "experiments/get", self.get_experiment),
            ("GET", "experiments/get-by-name", self.get_experiment_by_name),
            ("GET", "experiments/search", self.search_experiments),
            ("POST", "experiments/search", self.search_experiments),
            ("POST", "experiments/update", self.update_experiment),
            ("POST", "experiments/delete", self.delete_experiment),
            ("POST", "experiments/restore", self.restore_experiment),
            ("POST", "experiments/set-experiment-tag", self.set_experiment_tag),
            ("POST", "experiments/delete-experiment-tag", self.delete_experiment_tag),
            ("POST", "runs/create", self.create_run),
            ("GET", "runs/get", self.get_run),
            ("POST", "runs/update", self.update_run),
            ("POST", "runs/delete", self.delete_run),
            ("POST", "runs/restore", self.restore_run),
            ("POST", "runs/search", self.search_runs),
            ("POST", "runs/log-metric", self.log_metric),
            ("POST", "runs/log-parameter", self.log_param),
            ("POST", "runs/set-tag", self.set_tag),
            ("POST", "runs/delete-tag", self.delete_tag),
            ("POST", "runs/log-batch", self.log_batch),
            ("POST", "runs/log-inputs", self.log_inputs),
            ("POST", "runs/log-model", self.log_model),
            ("POST", "runs/outputs", self.log_outputs),
            ("GET", "metrics/get-history", self.get_history),
            ("GET", "metrics/get-history-bulk-interval", self.get_history_bulk_interval),
            ("GET", "artifacts/list", self.list_artifacts),
        ]

    # Experiments

    def create_experiment(self, f: Fields) -> dict[str, Any]:
        exp = self._t.create_experiment(
            f.text("name", required=True),
            self._uris.from_client(f.text("artifact_location")),
            pairs(f.objects("tags"), "tags"),
        )
        return {"experiment_id": exp.experiment_id}

    def get_experiment(self, f: Fields) -> dict[str, Any]:
        exp = self._t.get_experiment(f.text("experiment_id", required=True))
        return {"experiment": convert.experiment(exp, self._uris)}

    def get_experiment_by_name(self, f: Fields) -> dict[str, Any]:
        exp = self._t.get_experiment_by_name(f.text("experiment_name", required=True))
        return {"experiment": convert.experiment(exp, self._uris)}

    def search_experiments(self, f: Fields) -> dict[str, Any]:
        page = self._t.search_experiments(
            f.text("filter"),
            f.texts("order_by"),
            convert.view("view_type", f.raw("view_type")),
            f.integer("max_results"),
            f.text("page_token"),
        )
        out: dict[str, Any] = {
            "experiments": [convert.experiment(e, self._uris) for e in page.items]
        }
        if page.next_page_token:
            out["next_page_token"] = page.next_page_token
        return out

    def update_experiment(self, f: Fields) -> dict[str, Any]:
        eid = f.text("experiment_id", required=True)
        if f.has("new_name"):
            self._t.rename_experiment(eid, f.text("new_name"))
        else:
            self._t.get_experiment(eid)
        return {}

    def delete_experiment(self, f: Fields) -> dict[str, Any]:
        self._t.delete_experiment(f.text("experiment_id", required=True))
        return {}

    def restore_experiment(self, f: Fields) -> dict[str, Any]:
        self._t.restore_experiment(f.text("experiment_id", required=True))
        return {}

    def set_experiment_tag(self, f: Fields) -> dict[str, Any]:
        self._t.set_experiment_tag(
            f.text("experiment_id", required=True), f.text("key", required=True), f.text("value")
        )
        return {}

    def delete_experiment_tag(self, f: Fields) -> dict[str, Any]:
        self._t.delete_experiment_tag(
            f.text("experiment_id", required=True), f.text("key", required=True)
        )
        return {}

    # Runs

    def create_run(self, f: Fields) -> dict[str, Any]:
        created = self._t.create_run(
            f.text("experiment_id", required=True),
            run_name=f.text("run_name"),
            start_time=f.integer("start_time"),
            tags=pairs(f.objects("tags"), "tags"),
            user_id=f.text("user_id"),
        )
        return {"run": convert.run(created, self._uris)}

    def get_run(self, f: Fields) -> dict[str, Any]:
        return {"run": convert.run(self._t.get_run(f.run_id()), self._uris)}

    def update_run(self, f: Fields) -> dict[str, Any]:
        info = self._t.update_run(
            f.run_id(),
            status=convert.status("status", f.raw("status")) if f.has("status") else None,
            end_time=f.integer("end_time") if f.has("end_time") else None,
            run_name=f.text("run_name") if f.text("run_name") else None,
        )
        return {"run_info": convert.run_info(info, self._uris)}

    def delete_run(self, f: Fields) -> dict[str, Any]:
        self._t.delete_run(f.run_id())
        return {}

    def restore_run(self, f: Fields) -> dict[str, Any]:
        self._t.restore_run(f.run_id())
        return {}

    def search_runs(self, f: Fields) -> dict[str, Any]:
        page = self._t.search_runs(
            f.texts("experiment_ids"),
            f.text("filter"),
            f.texts("order_by"),
            convert.view("run_view_type", f.raw("run_view_type")),
            f.integer("max_results"),
            f.text("page_token"),
        )
        out: dict[str, Any] = {"runs": [convert.run(r, self._uris) for r in page.items]}
        if page.next_page_token:
            out["next_page_token"] = page.next_page_token
        return out

    def log_metric(self, f: Fields) -> dict[str, Any]:
        run_id = f.run_id()
        key = f.text("key", required=True)
        value = f.number("value", required=True)
        timestamp = f.integer("timestamp")
        step = f.integer("step")
        model_id = f.text("model_id")
        if model_id:
            point = ModelMetric(
                key, value, timestamp, step, "", f.text("dataset_name"), f.text("dataset_digest")
            )
            self._models.log_logged_model_metrics(model_id, run_id, [point])
        else:
            self._t.log_metric(run_id, key, value, timestamp, step)
        return {}

    def log_param(self, f: Fields) -> dict[str, Any]:
        self._t.log_param(f.run_id(), f.text("key", required=True), f.text("value"))
        return {}

    def set_tag(self, f: Fields) -> dict[str, Any]:
        self._t.set_tag(f.run_id(), f.text("key", required=True), f.text("value"))
        return {}

    def delete_tag(self, f: Fields) -> dict[str, Any]:
        self._t.delete_tag(f.run_id(), f.text("key", required=True))
        return {}

    def log_batch(self, f: Fields) -> dict[str, Any]:
        run_id = f.run_id()
        columns, by_model = _metric_columns(f.objects("metrics"))
        params = pairs(f.objects("params"), "params")
        tags = pairs(f.objects("tags"), "tags")
        if columns or params or tags or not by_model:
            self._t.log_batch_columns(run_id, columns, params, tags)
        for model_id, model_points in by_model.items():
            self._models.log_logged_model_metrics(model_id, run_id, model_points)
        return {}

    def log_inputs(self, f: Fields) -> dict[str, Any]:
        run_id = f.run_id()
        inputs = [_dataset_input(i, item) for i, item in enumerate(f.objects("datasets"))]
        if inputs:
            self._t.log_inputs(run_id, inputs)
        else:
            self._t.get_run(run_id)
        return {}

    def log_model(self, f: Fields) -> dict[str, Any]:
        """Appends the MLmodel (as JSON) to the run's `mlflow.log-model.history` tag."""
        run_id = f.run_id()
        text = f.text("model_json", required=True)
        try:
            model = jsonio.loads(text.encode())
        except ValueError:
            raise invalid("model_json", "is not valid JSON") from None
        if not isinstance(model, dict):
            raise invalid("model_json", "must be a JSON object")
        current = self._t.get_run(run_id).tags.get(LOG_MODEL_HISTORY_TAG, "")
        history: list[Any] = []
        if current:
            try:
                loaded = jsonio.loads(current.encode())
                history = loaded if isinstance(loaded, list) else []
            except ValueError:
                history = []
        history.append(model)
        self._t.set_tag(run_id, LOG_MODEL_HISTORY_TAG, jsonio.dumps(history).decode())
        return {}

    def log_outputs(self, f: Fields) -> dict[str, Any]:
        run_id = f.run_id()
        self._t.get_run(run_id)
        for i, item in enumerate(f.objects("models")):
            model_id = item.get("model_id")
            if not isinstance(model_id, str) or not model_id:
                raise invalid(f"models[{i}].model_id", "is required")
            self._models.get_logged_model(model_id)
        return {}

    # Reads

    def get_history(self, f: Fields) -> dict[str, Any]:
        run_id = f.run_id()
        key = f.text("metric_key", required=True)
        points, token = self._t.metric_history(
            run_id, key, f.integer("max_results"), f.text("page_token")
        )
        out: dict[str, Any] = {"metrics": convert.history(key, points)}
        if token:
            out["next_page_token"] = token
        return out

    def get_history_bulk_interval(self, f: Fields) -> dict[str, Any]:
        """Each run's series downsampled by the service. A step range, when given, is
        applied to the downsampled series: fewer points inside a narrow range than
        MLflow's server, which samples the range itself."""
        run_ids = f.texts("run_ids")
        key = f.text("metric_key", required=True)
        wanted = f.integer("max_results", BULK_INTERVAL_DEFAULT_RESULTS)
        if wanted <= 0 or wanted > BULK_INTERVAL_MAX_RESULTS:
            raise invalid(
                "max_results", f"{wanted} is not between 1 and {BULK_INTERVAL_MAX_RESULTS}"
            )
        has_start, has_end = f.has("start_step"), f.has("end_step")
        if has_start != has_end:
            raise invalid("start_step", "start_step and end_step must be given together")
        start, end = f.integer("start_step"), f.integer("end_step")
        if has_start and start > end:
            raise invalid("start_step", f"{start} is after end_step {end}")
        found = self._t.metric_history_downsampled(run_ids, key, max(wanted, 3))
        metrics: list[dict[str, Any]] = []
        for run_id, points in zip(run_ids, found, strict=True):
            for item in convert.history(key, points, run_id):
                if not has_start or start <= item["step"] <= end:
                    metrics.append(item)
        return {"metrics": metrics}

    def list_artifacts(self, f: Fields) -> dict[str, Any]:
        path = f.text("path").strip("/")
        files, token, root = self._artifacts.list(
            Scope(run_id=f.run_id()), path, page_token=f.text("page_token")
        )
        out: dict[str, Any] = {
            "root_uri": self._uris.to_client(root),
            "files": convert.files(files),
        }
        if token:
            out["next_page_token"] = token
        return out


def _metric_columns(
    items: list[dict[str, Any]],
) -> tuple[list[MetricColumns], dict[str, list[ModelMetric]]]:
    """A log-batch's metrics in one pass: the run's points grouped into columns by key, in
    request order, and the points that name a logged model, by model. This loop runs once
    per point of the ingest path, so the common shape (a str key, a float value, int
    timestamp and step, no model; MLflow 3's client adds the run_id, which is ignored as
    the run is the request's) is tested inline and anything else takes `_point`."""
    grouped: dict[str, MetricColumns] = {}
    by_model: dict[str, list[ModelMetric]] = {}
    for i, m in enumerate(items):
        try:
            key = m["key"]
            value = m["value"]
            timestamp = m["timestamp"]
            step = m["step"]
        except KeyError:
            # A field left out takes its default, or fails, in `_point`.
            key = value = timestamp = step = None
        if (
            type(value) is not float
            or type(timestamp) is not int
            or type(step) is not int
            or type(key) is not str
            or "model_id" in m
        ):
            key, value, timestamp, step = _point(i, m)
            model_id = m.get("model_id")
            if model_id:
                point = (key, value, timestamp, step)
                by_model.setdefault(str(model_id), []).append(_model_metric(point, m))
                continue
        col = grouped.get(key)
        if col is None:
            col = grouped[key] = MetricColumns(key, [], [], [])
        col.steps.append(step)  # type: ignore[attr-defined]
        col.timestamps.append(timestamp)  # type: ignore[attr-defined]
        col.values.append(value)  # type: ignore[attr-defined]
    return list(grouped.values()), by_model


def _point(i: int, m: dict[str, Any]) -> tuple[str, float, int, int]:
    key = m.get("key")
    if not isinstance(key, str):
        raise invalid(f"metrics[{i}].key", "must be a string")
    value = m.get("value")
    if type(value) is not float:
        if value is None:
            raise invalid(f"metrics[{i}].value", "Missing value for required parameter 'value'")
        if isinstance(value, bool):
            raise invalid(f"metrics[{i}].value", "must be a number, not a boolean")
        value = jsonio.parse_number(f"metrics[{i}].value", value)
    timestamp = m.get("timestamp", 0)
    if type(timestamp) is not int:
        timestamp = jsonio.parse_int(f"metrics[{i}].timestamp", timestamp or 0)
    step = m.get("step", 0)
    if type(step) is not int:
        step = jsonio.parse_int(f"metrics[{i}].step", step or 0)
    return key, value, timestamp, step


def _model_metric(point: tuple[str, float, int, int], m: dict[str, Any]) -> ModelMetric:
    """A point that names a logged model, with the dataset it was measured on."""
    return ModelMetric(
        *point, "", str(m.get("dataset_name") or ""), str(m.get("dataset_digest") or "")
    )


def _dataset_input(i: int, item: dict[str, Any]) -> DatasetInput:
    ds = item.get("dataset")
    if not isinstance(ds, dict):
        raise invalid(f"datasets[{i}].dataset", "is required")

    def text(name: str) -> str:
        value = ds.get(name, "")
        return value if isinstance(value, str) else str(value)

    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise invalid(f"datasets[{i}].tags", "must be a list of {key, value} objects")
    return DatasetInput(
        dataset=Dataset(
            name=text("name"),
            digest=text("digest"),
            source_type=text("source_type"),
            source=text("source"),
            schema=text("schema"),
            profile=text("profile"),
        ),
        tags=pairs(tags, f"datasets[{i}].tags"),
    )
