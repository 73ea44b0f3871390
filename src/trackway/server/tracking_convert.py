"""Tracking API messages to domain entities and back."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from trackway.errors import invalid
from trackway.gen.tracking.v1 import experiment_pb2, metric_pb2, run_pb2, tracking_service_pb2
from trackway.store.history import Points
from trackway.tracking.entities import (
    ACTIVE,
    DELETED,
    Dataset,
    DatasetInput,
    Experiment,
    MetricColumns,
    Run,
    RunInfo,
    RunWrites,
)

_STAGE_TO_PROTO = {
    ACTIVE: experiment_pb2.LIFECYCLE_STAGE_ACTIVE,
    DELETED: experiment_pb2.LIFECYCLE_STAGE_DELETED,
}
_VIEW_FROM_PROTO: dict[int, str] = {
    experiment_pb2.VIEW_TYPE_UNSPECIFIED: "active",
    experiment_pb2.VIEW_TYPE_ACTIVE_ONLY: "active",
    experiment_pb2.VIEW_TYPE_DELETED_ONLY: "deleted",
    experiment_pb2.VIEW_TYPE_ALL: "all",
}
_STATUS_NAMES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


def status_to_proto(status: str) -> int:
    return int(run_pb2.RunStatus.Value(f"RUN_STATUS_{status}"))


def status_from_proto(value: int) -> str:
    if value == run_pb2.RUN_STATUS_UNSPECIFIED or value not in run_pb2.RunStatus.values():
        raise invalid("status", f"{value} is not a run status")
    return run_pb2.RunStatus.Name(value).removeprefix("RUN_STATUS_")


def view_from_proto(value: int) -> str:
    if value not in _VIEW_FROM_PROTO:
        raise invalid("view_type", f"{value} is not a view type")
    return _VIEW_FROM_PROTO[value]


def experiment_to_proto(exp: Experiment) -> experiment_pb2.Experiment:
    return experiment_pb2.Experiment(
        experiment_id=exp.experiment_id,
        name=exp.name,
        artifact_location=exp.artifact_location,
        lifecycle_stage=_STAGE_TO_PROTO[exp.lifecycle_stage],
        creation_time=exp.creation_time,
        last_update_time=exp.last_update_time,
        tags=[experiment_pb2.ExperimentTag(key=k, value=v) for k, v in exp.tags.items()],
    )


def run_info_to_proto(info: RunInfo) -> run_pb2.RunInfo:
    return run_pb2.RunInfo(
        run_id=info.run_id,
        experiment_id=info.experiment_id,
        run_name=info.run_name,
        user_id=info.user_id,
        status=status_to_proto(info.status),  # type: ignore[arg-type]
        start_time=info.start_time,
        end_time=info.end_time or 0,
        artifact_uri=info.artifact_uri,
        lifecycle_stage=_STAGE_TO_PROTO[info.lifecycle_stage],
        parent_run_id=info.parent_run_id or "",
    )


def run_to_proto(run: Run) -> run_pb2.Run:
    data = run_pb2.RunData(
        metrics=[
            metric_pb2.Metric(key=m.key, value=m.value, timestamp=m.timestamp, step=m.step)
            for m in run.metrics
        ],
        params=[run_pb2.Param(key=k, value=v) for k, v in run.params.items()],
        tags=[run_pb2.RunTag(key=k, value=v) for k, v in run.tags.items()],
    )
    inputs = run_pb2.RunInputs(
        dataset_inputs=[
            run_pb2.DatasetInput(
                tags=[run_pb2.InputTag(key=k, value=v) for k, v in item.tags],
                dataset=run_pb2.Dataset(
                    name=item.dataset.name,
                    digest=item.dataset.digest,
                    source_type=item.dataset.source_type,
                    source=item.dataset.source,
                    schema=item.dataset.schema,
                    profile=item.dataset.profile,
                ),
            )
            for item in run.inputs
        ]
    )
    return run_pb2.Run(info=run_info_to_proto(run.info), data=data, inputs=inputs)


def points_to_proto(key: str, points: Points) -> metric_pb2.MetricColumns:
    """Worker labels are sent only when at least one point has one."""
    values: Sequence[float | None] = points.values
    if None in values:
        values = [math.nan if v is None else v for v in values]
    workers: Sequence[str | None] = points.workers
    if workers and not any(workers):
        workers = ()
    elif None in workers:
        workers = ["" if w is None else w for w in workers]
    return metric_pb2.MetricColumns(
        key=key,
        steps=points.steps,
        timestamps=points.timestamps,
        values=values,  # type: ignore[arg-type]  # NaN replaced every None above
        workers=workers,  # type: ignore[arg-type]  # "" replaced every None above
    )


def metric_columns(items: Iterable[metric_pb2.MetricColumns]) -> list[MetricColumns]:
    """Columns stay protobuf repeated fields: the store reads them without copying."""
    return [MetricColumns(c.key, c.steps, c.timestamps, c.values, c.worker) for c in items]


def stream_writes(batch: tracking_service_pb2.LogStreamBatch) -> RunWrites:
    return RunWrites(
        run_id=batch.run_id,
        metrics=metric_columns(batch.metrics),
        params=[(p.key, p.value) for p in batch.params],
        tags=[(t.key, t.value) for t in batch.tags],
    )


def dataset_inputs(items: Iterable[run_pb2.DatasetInput]) -> list[DatasetInput]:
    return [
        DatasetInput(
            dataset=Dataset(
                name=i.dataset.name,
                digest=i.dataset.digest,
                source_type=i.dataset.source_type,
                source=i.dataset.source,
                schema=i.dataset.schema,
                profile=i.dataset.profile,
            ),
            tags=[(t.key, t.value) for t in i.tags],
        )
        for i in items
    ]
