"""Plain Python views of the tracking API's messages, shaped like MLflow's entities.

`run.data.metrics["loss"]`, `run.info.status == "FINISHED"`: dicts and strings rather
than repeated fields and enum numbers. A Run keeps the message it came from as `.proto`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from trackway.gen.tracking.v1 import experiment_pb2, metric_pb2, run_pb2
from trackway.tracking.entities import RUN_STATUSES

T = TypeVar("T")


def status_name(value: int) -> str:
    return str(run_pb2.RunStatus.Name(value)).removeprefix("RUN_STATUS_")


def status_value(name: str) -> run_pb2.RunStatus:
    upper = name.upper()
    if upper not in RUN_STATUSES:
        raise ValueError(f"{name!r} is not a run status; use one of {', '.join(RUN_STATUSES)}")
    return cast(run_pb2.RunStatus, run_pb2.RunStatus.Value(f"RUN_STATUS_{upper}"))


def stage_name(value: int) -> str:
    return str(experiment_pb2.LifecycleStage.Name(value)).removeprefix("LIFECYCLE_STAGE_").lower()


class Page(list[T], Generic[T]):
    """One page of a search: a list, plus the token of the next page ('' on the last)."""

    def __init__(self, items: list[T], token: str = "") -> None:
        super().__init__(items)
        self.token = token


@dataclass(frozen=True)
class Metric:
    """One point of a metric's history."""

    key: str
    value: float
    step: int
    timestamp: int
    # The distributed worker (rank, host) that logged the point; empty for none.
    worker: str = ""


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str]

    @classmethod
    def from_proto(cls, msg: experiment_pb2.Experiment) -> Experiment:
        return cls(
            experiment_id=msg.experiment_id,
            name=msg.name,
            artifact_location=msg.artifact_location,
            lifecycle_stage=stage_name(msg.lifecycle_stage),
            creation_time=msg.creation_time,
            last_update_time=msg.last_update_time,
            tags={t.key: t.value for t in msg.tags},
        )


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    parent_run_id: str | None

    @classmethod
    def from_proto(cls, msg: run_pb2.RunInfo) -> RunInfo:
        return cls(
            run_id=msg.run_id,
            experiment_id=msg.experiment_id,
            run_name=msg.run_name,
            user_id=msg.user_id,
            status=status_name(msg.status),
            start_time=msg.start_time,
            end_time=msg.end_time or None,
            artifact_uri=msg.artifact_uri,
            lifecycle_stage=stage_name(msg.lifecycle_stage),
            parent_run_id=msg.parent_run_id or None,
        )


@dataclass(frozen=True)
class RunData:
    """Latest value of each metric, params and tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_proto(cls, msg: run_pb2.RunData) -> RunData:
        return cls(
            metrics={m.key: m.value for m in msg.metrics},
            params={p.key: p.value for p in msg.params},
            tags={t.key: t.value for t in msg.tags},
        )


@dataclass(frozen=True)
class Dataset:
    """A dataset that a run consumed. `digest` (at most 36 characters) identifies its
    content; `schema` and `profile` are free text, usually JSON."""

    name: str
    digest: str
    source: str = ""
    source_type: str = ""
    schema: str = ""
    profile: str = ""

    def to_proto(self) -> run_pb2.Dataset:
        return run_pb2.Dataset(
            name=self.name,
            digest=self.digest,
            source_type=self.source_type,
            source=self.source,
            schema=self.schema,
            profile=self.profile,
        )

    @classmethod
    def from_proto(cls, msg: run_pb2.Dataset) -> Dataset:
        return cls(
            name=msg.name,
            digest=msg.digest,
            source=msg.source,
            source_type=msg.source_type,
            schema=msg.schema,
            profile=msg.profile,
        )


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: list[DatasetInput]
    proto: run_pb2.Run = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, msg: run_pb2.Run) -> Run:
        return cls(
            info=RunInfo.from_proto(msg.info),
            data=RunData.from_proto(msg.data),
            inputs=[
                DatasetInput(Dataset.from_proto(i.dataset), {t.key: t.value for t in i.tags})
                for i in msg.inputs.dataset_inputs
            ],
            proto=msg,
        )


def metrics_from_columns(columns: metric_pb2.MetricColumns) -> list[Metric]:
    key = columns.key
    if columns.workers:
        return [
            Metric(key, value, step, stamp, worker)
            for step, stamp, value, worker in zip(
                columns.steps, columns.timestamps, columns.values, columns.workers, strict=True
            )
        ]
    return [
        Metric(key, value, step, stamp)
        for step, stamp, value in zip(
            columns.steps, columns.timestamps, columns.values, strict=True
        )
    ]
