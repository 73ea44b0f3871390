"""The tracking service: the one place where API requests become store calls.

gRPC, the MLflow-compatible REST gateway and the UI all call this class, so every rule
about input (limits, key names, ids) is written once, here and in `validation`.
Rules that need the database's state inside a transaction (write-once params, deleted
runs) live in the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import Future

from trackway.errors import invalid
from trackway.search import decode_page_token, encode_page_token, query_fingerprint
from trackway.store.history import Points
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking import limits, names
from trackway.tracking import validation as check
from trackway.tracking.entities import (
    RUN_STATUSES,
    DatasetInput,
    Experiment,
    MetricColumns,
    Page,
    Run,
    RunInfo,
    RunWrites,
)

VIEWS = ("active", "deleted", "all")
# The longest lease a run may hold (CreateRunRequest.lease_seconds): one day.
MAX_LEASE_SECONDS = 86_400


class TrackingService:
    def __init__(self, store: SqlTrackingStore) -> None:
        self.store = store

    # Experiments

    def create_experiment(
        self,
        name: str,
        artifact_location: str = "",
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> Experiment:
        check.text("name", name, limits.MAX_EXPERIMENT_NAME_LENGTH, required=True)
        check.text("artifact_location", artifact_location, limits.MAX_ARTIFACT_LOCATION_LENGTH)
        if artifact_location:
            check.inside_root("artifact_location", artifact_location, self.store.artifact_root)
        check.tags("tags", tags, limits.MAX_INITIAL_TAGS, limits.MAX_EXPERIMENT_TAG_VALUE_LENGTH)
        check.request_id(request_id)
        return self.store.create_experiment(name, artifact_location, tags, request_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(check.experiment_id("experiment_id", experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment:
        check.text("name", name, limits.MAX_EXPERIMENT_NAME_LENGTH, required=True)
        return self.store.get_experiment_by_name(name)

    def rename_experiment(self, experiment_id: str, name: str, request_id: str = "") -> Experiment:
        eid = check.experiment_id("experiment_id", experiment_id)
        check.text("name", name, limits.MAX_EXPERIMENT_NAME_LENGTH, required=True)
        check.request_id(request_id)
        return self.store.rename_experiment(eid, name, request_id)

    def delete_experiment(self, experiment_id: str, request_id: str = "") -> None:
        check.request_id(request_id)
        self.store.delete_experiment(
            check.experiment_id("experiment_id", experiment_id), request_id
        )

    def restore_experiment(self, experiment_id: str, request_id: str = "") -> None:
        check.request_id(request_id)
        self.store.restore_experiment(
            check.experiment_id("experiment_id", experiment_id), request_id
        )

    def purge_experiment(self, experiment_id: str, request_id: str = "") -> int:
        check.request_id(request_id)
        return self.store.purge_experiment(
            check.experiment_id("experiment_id", experiment_id), request_id
        )

    def set_experiment_tag(
        self, experiment_id: str, key: str, value: str, request_id: str = ""
    ) -> None:
        eid = check.experiment_id("experiment_id", experiment_id)
        check.tag("tag", key, value, limits.MAX_EXPERIMENT_TAG_VALUE_LENGTH)
        check.request_id(request_id)
        self.store.set_experiment_tag(eid, key, value, request_id)

    def delete_experiment_tag(self, experiment_id: str, key: str, request_id: str = "") -> None:
        eid = check.experiment_id("experiment_id", experiment_id)
        check.key("key", key)
        check.request_id(request_id)
        self.store.delete_experiment_tag(eid, key, request_id)

    def search_experiments(
        self,
        filter_text: str = "",
        order_by: Sequence[str] = (),
        view: str = "active",
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[Experiment]:
        self._check_search(filter_text, order_by, view)
        size = check.page_size(
            "page_size",
            page_size,
            limits.SEARCH_EXPERIMENTS_DEFAULT_PAGE,
            limits.SEARCH_EXPERIMENTS_MAX_PAGE,
        )
        return self.store.search_experiments(filter_text, order_by, view, size, page_token)

    @staticmethod
    def _check_search(filter_text: str, order_by: Sequence[str], view: str) -> None:
        check.text("filter", filter_text, limits.MAX_FILTER_LENGTH)
        check.count("order_by", order_by, limits.MAX_ORDER_BY_CLAUSES)
        if view not in VIEWS:
            raise invalid("view_type", f"{view!r} is not one of {', '.join(VIEWS)}")

    # Runs

    def create_run(
        self,
        experiment_id: str,
        run_name: str = "",
        start_time: int = 0,
        tags: Sequence[tuple[str, str]] = (),
        user_id: str = "",
        parent_run_id: str = "",
        request_id: str = "",
        lease_seconds: int = 0,
    ) -> Run:
        eid = check.experiment_id("experiment_id", experiment_id)
        tag_map = dict(tags)
        name = run_name or tag_map.get("mlflow.runName", "") or names.run_name()
        check.text("run_name", name, limits.MAX_RUN_NAME_LENGTH)
        check.timestamp("start_time", start_time)
        check.tags("tags", tags, limits.MAX_INITIAL_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH)
        check.text("user_id", user_id, limits.MAX_USER_ID_LENGTH)
        if parent_run_id:
            check.run_id("parent_run_id", parent_run_id)
        _check_lease("lease_seconds", lease_seconds)
        check.request_id(request_id)
        return self.store.create_run(
            run_id=uuid.uuid4().hex,
            experiment_id=eid,
            run_name=name,
            user_id=user_id,
            start_time=start_time,
            tags=tags,
            parent_run_id=parent_run_id,
            request_id=request_id,
            lease_seconds=lease_seconds,
        )

    def get_run(self, run_id: str) -> Run:
        check.run_id("run_id", run_id)
        return self.store.get_run(run_id)

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        request_id: str = "",
    ) -> RunInfo:
        check.run_id("run_id", run_id)
        if status is not None and status not in RUN_STATUSES:
            raise invalid("status", f"{status!r} is not one of {', '.join(RUN_STATUSES)}")
        if end_time is not None:
            check.timestamp("end_time", end_time)
        if run_name is not None:
            check.text("run_name", run_name, limits.MAX_RUN_NAME_LENGTH, required=True)
        check.request_id(request_id)
        return self.store.update_run(
            run_id, status=status, end_time=end_time, run_name=run_name, request_id=request_id
        )

    def heartbeat_run(self, run_id: str, lease_seconds: int = 0) -> int:
        """Renews a RUNNING run's lease (with a new length when `lease_seconds` is set);
        returns when it now runs out, in epoch ms."""
        check.run_id("run_id", run_id)
        _check_lease("lease_seconds", lease_seconds)
        return self.store.heartbeat_run(run_id, lease_seconds)

    def delete_run(self, run_id: str, request_id: str = "") -> None:
        check.run_id("run_id", run_id)
        check.request_id(request_id)
        self.store.delete_run(run_id, request_id)

    def restore_run(self, run_id: str, request_id: str = "") -> None:
        check.run_id("run_id", run_id)
        check.request_id(request_id)
        self.store.restore_run(run_id, request_id)

    def set_tag(self, run_id: str, key: str, value: str, request_id: str = "") -> None:
        check.run_id("run_id", run_id)
        check.tag("tag", key, value, limits.MAX_RUN_TAG_VALUE_LENGTH)
        check.request_id(request_id)
        self.store.log("SetTag", RunWrites(run_id, tags=[(key, value)]), request_id)

    def delete_tag(self, run_id: str, key: str, request_id: str = "") -> None:
        check.run_id("run_id", run_id)
        check.key("key", key)
        check.request_id(request_id)
        self.store.delete_tag(run_id, key, request_id)

    def log_param(self, run_id: str, key: str, value: str, request_id: str = "") -> None:
        check.run_id("run_id", run_id)
        check.param("param", key, value)
        check.request_id(request_id)
        self.store.log("LogParam", RunWrites(run_id, params=[(key, value)]), request_id)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int,
        step: int,
        request_id: str = "",
        worker: str = "",
    ) -> None:
        check.run_id("run_id", run_id)
        check.key("metric.key", key)
        check.timestamp("metric.timestamp", timestamp)
        check.worker("metric.worker", worker)
        check.request_id(request_id)
        point = MetricColumns(key, [step], [timestamp], [value], worker)
        writes = RunWrites(run_id, metrics=[point])
        self.store.log("LogMetric", writes, request_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[check.MetricPoint] = (),
        params: Sequence[tuple[str, str]] = (),
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> None:
        """Logs (key, value, timestamp, step[, worker]) points, params and tags in one
        transaction."""
        check.run_id("run_id", run_id)
        check.count("metrics", metrics, limits.MAX_BATCH_METRICS)
        columns = check.metric_points("metrics", metrics)
        self._log_batch(run_id, columns, params, tags, request_id)

    def log_batch_columns(
        self,
        run_id: str,
        metrics: Sequence[MetricColumns],
        params: Sequence[tuple[str, str]] = (),
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> None:
        """`log_batch` for a caller that has already grouped its points into columns by key
        (the REST gateway reads MLflow's JSON straight into them), under the same limits."""
        self._log_columns(run_id, metrics, params, tags, request_id, limits.MAX_BATCH_METRICS)

    def log_columns(
        self,
        run_id: str,
        metrics: Sequence[MetricColumns],
        params: Sequence[tuple[str, str]] = (),
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> None:
        """LogColumns: a LogStream batch as one call (for clients that cannot stream),
        so with a stream batch's point limit."""
        self._log_columns(run_id, metrics, params, tags, request_id, limits.MAX_STREAM_BATCH_POINTS)

    def _log_columns(
        self,
        run_id: str,
        metrics: Sequence[MetricColumns],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
        request_id: str,
        max_points: int,
    ) -> None:
        check.run_id("run_id", run_id)
        check.metric_columns("metrics", metrics, max_points)
        self._log_batch(run_id, metrics, params, tags, request_id)

    def _log_batch(
        self,
        run_id: str,
        columns: Sequence[MetricColumns],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
        request_id: str,
    ) -> None:
        """Both forms of LogBatch once their metrics are checked columns."""
        check.params("params", params, limits.MAX_BATCH_PARAMS)
        check.tags("tags", tags, limits.MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH)
        check.request_id(request_id)
        writes = RunWrites(run_id, list(columns), list(params), list(tags))
        self.store.log("LogBatch", writes, request_id)

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput], request_id: str = "") -> None:
        check.run_id("run_id", run_id)
        check.count("datasets", inputs, limits.MAX_INPUT_DATASETS)
        for i, item in enumerate(inputs):
            _check_dataset_input(f"datasets[{i}]", item)
        check.request_id(request_id)
        self.store.log_inputs(run_id, inputs, request_id)

    # Streaming ingest

    def open_stream(self, writer_id: str) -> int:
        check.text("open.writer_id", writer_id, limits.MAX_WRITER_ID_LENGTH, required=True)
        return self.store.last_stream_seq(writer_id)

    def submit_stream_batch(self, writer_id: str, seq: int, writes: RunWrites) -> Future[bool]:
        """Checks a LogStream batch and queues it; the future resolves once it is committed
        (True) or found committed before (False)."""
        if seq < 1:
            raise invalid("batch.seq", "must be at least 1")
        check.run_id("batch.run_id", writes.run_id)
        check.metric_columns("batch.metrics", writes.metrics, limits.MAX_STREAM_BATCH_POINTS)
        check.params("batch.params", writes.params, limits.MAX_BATCH_PARAMS)
        check.tags(
            "batch.tags", writes.tags, limits.MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH
        )
        return self.store.submit_stream_batch(writer_id, seq, writes)

    # Reads

    def metric_history(
        self, run_id: str, key: str, page_size: int = 0, page_token: str = "", worker: str = ""
    ) -> tuple[Points, str]:
        """A page of a series; with `worker`, only the points of that worker."""
        check.run_id("run_id", run_id)
        check.key("metric_key", key)
        check.worker("worker", worker)
        size = check.page_size(
            "page_size", page_size, limits.HISTORY_DEFAULT_PAGE, limits.HISTORY_MAX_PAGE
        )
        # Unfiltered tokens keep the fingerprint they had before worker labels existed.
        fingerprint = query_fingerprint("history", run_id, key, *([worker] if worker else []))
        after = None
        if page_token:
            step, point_id = decode_page_token(page_token, fingerprint)
            if not isinstance(step, int) or not isinstance(point_id, int):
                raise invalid("page_token", "is not a token of this metric history")
            after = (step, point_id)
        points, cursor = self.store.metric_history_page(run_id, key, after, size, worker)
        token = encode_page_token(fingerprint, list(cursor)) if cursor else ""
        return points, token

    def metric_history_downsampled(
        self, run_ids: Sequence[str], key: str, max_points: int, worker: str = ""
    ) -> list[Points]:
        """Each run's series reduced to `max_points`; with `worker`, only the points of that
        worker, which are read one by one: block summaries cover every worker."""
        if not run_ids:
            raise invalid("run_ids", "must name at least one run")
        check.count("run_ids", run_ids, limits.BULK_HISTORY_MAX_RUNS)
        for i, run_id in enumerate(run_ids):
            check.run_id(f"run_ids[{i}]", run_id)
        check.key("metric_key", key)
        check.worker("worker", worker)
        points = check.page_size(
            "max_points", max_points, limits.BULK_HISTORY_DEFAULT_POINTS, limits.HISTORY_MAX_POINTS
        )
        if points < 3:
            raise invalid("max_points", "must be at least 3 (the first, the last and one more)")
        return self.store.metric_history_downsampled(run_ids, key, points, worker)

    def search_runs(
        self,
        experiment_ids: Sequence[str] = (),
        filter_text: str = "",
        order_by: Sequence[str] = (),
        view: str = "active",
        page_size: int = 0,
        page_token: str = "",
        with_data: bool = True,
    ) -> Page[Run]:
        check.count("experiment_ids", experiment_ids, limits.MAX_SEARCH_EXPERIMENT_IDS)
        ids = [check.experiment_id(f"experiment_ids[{i}]", e) for i, e in enumerate(experiment_ids)]
        self._check_search(filter_text, order_by, view)
        size = check.page_size(
            "page_size", page_size, limits.SEARCH_RUNS_DEFAULT_PAGE, limits.SEARCH_RUNS_MAX_PAGE
        )
        return self.store.search_runs(
            experiment_ids=ids,
            filter_text=filter_text,
            order_by=order_by,
            view=view,
            page_size=size,
            page_token=page_token,
            with_data=with_data,
        )


def _check_lease(path: str, seconds: int) -> None:
    """0 is no lease (or, on a heartbeat, the run's current length)."""
    if not 0 <= seconds <= MAX_LEASE_SECONDS:
        raise invalid(path, f"must be 0 (no lease) or 1 to {MAX_LEASE_SECONDS:,} seconds")


def _check_dataset_input(path: str, item: DatasetInput) -> None:
    ds = item.dataset
    check.text(f"{path}.dataset.name", ds.name, limits.MAX_DATASET_NAME_LENGTH, required=True)
    check.text(f"{path}.dataset.digest", ds.digest, limits.MAX_DATASET_DIGEST_LENGTH, required=True)
    check.text(f"{path}.dataset.source_type", ds.source_type, limits.MAX_DATASET_SOURCE_TYPE_LENGTH)
    check.text(f"{path}.dataset.source", ds.source, limits.MAX_DATASET_SOURCE_LENGTH)
    check.text(f"{path}.dataset.schema", ds.schema, limits.MAX_DATASET_SCHEMA_LENGTH)
    check.count(f"{path}.tags", item.tags, limits.MAX_INPUT_TAGS)
    for j, (key, value) in enumerate(item.tags):
        check.text(f"{path}.tags[{j}].key", key, limits.MAX_INPUT_TAG_KEY_LENGTH, required=True)
        check.text(f"{path}.tags[{j}].value", value, limits.MAX_INPUT_TAG_VALUE_LENGTH)
