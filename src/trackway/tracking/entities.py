"""Domain entities of tracking. API messages and table rows both convert to these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

ACTIVE = "active"
DELETED = "deleted"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
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


@dataclass(slots=True)
class LatestMetric:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str = ""
    profile: str = ""


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Run:
    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[LatestMetric] = field(default_factory=list)
    inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(slots=True)
class MetricColumns:
    """Points of one metric key, column by column (point i = steps[i], timestamps[i], values[i]).

    All the points share one optional worker label (a rank or host of distributed training).

    The columns may be any sequences, including protobuf repeated fields, so that the
    ingest path never copies points into per-point objects.
    """

    key: str
    steps: Sequence[int]
    timestamps: Sequence[int]
    values: Sequence[float]
    # The distributed worker that logged every point of these columns; empty for none.
    worker: str = ""

    def __len__(self) -> int:
        return len(self.values)


@dataclass(slots=True)
class RunWrites:
    """What one atomic write to a run carries: metric columns, params and tags."""

    run_id: str
    metrics: list[MetricColumns] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of a listing and the token of the next (empty on the last page)."""

    items: list[T]
    next_page_token: str = ""
