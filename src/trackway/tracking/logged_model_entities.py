"""Domain entities of logged models (MLflow 3's `LoggedModel`), and their limits.

API messages and table rows both convert to these. A logged model belongs to an
experiment; its files live at `<experiment location>/models/<model_id>/artifacts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PENDING = "PENDING"
READY = "READY"
UPLOAD_FAILED = "UPLOAD_FAILED"
STATUSES = (PENDING, READY, UPLOAD_FAILED)
# What FinalizeLoggedModel may set.
FINAL_STATUSES = (READY, UPLOAD_FAILED)

# The limits the proto comments state.
MAX_NAME_LENGTH = 500
MAX_MODEL_TYPE_LENGTH = 500
MAX_STATUS_MESSAGE_LENGTH = 1000
MAX_BATCH_TAGS = 100
MAX_BATCH_PARAMS = 100
MAX_BATCH_METRICS = 1000
MAX_SEARCH_DATASETS = 100
SEARCH_DEFAULT_PAGE = 100
SEARCH_MAX_PAGE = 1000


@dataclass(slots=True)
class ModelMetric:
    """One metric point of a logged model; `run_id` is "" when no run measured it."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str = ""
    dataset_name: str = ""
    dataset_digest: str = ""


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str
    status_message: str
    model_type: str
    source_run_id: str
    deleted: bool = False
    # Ordered by key.
    tags: dict[str, str] = field(default_factory=dict)
    # Ordered by key.
    params: dict[str, str] = field(default_factory=dict)
    # Ordered by key, step, timestamp, run.
    metrics: list[ModelMetric] = field(default_factory=list)


@dataclass(slots=True)
class NewLoggedModel:
    """What CreateLoggedModel writes, once the service has checked it and chosen the id."""

    model_id: str
    experiment_id: int
    name: str
    model_type: str
    source_run_id: str
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DatasetFilter:
    """A dataset that a search's metric comparisons and sort keys are limited to; an
    empty digest matches any digest."""

    name: str
    digest: str = ""


@dataclass(frozen=True, slots=True)
class ModelSearch:
    """The arguments of one logged-model search, checked by the service."""

    experiment_ids: tuple[int, ...]
    filter_text: str = ""
    order_by: tuple[str, ...] = ()
    datasets: tuple[DatasetFilter, ...] = ()
    page_size: int = SEARCH_DEFAULT_PAGE
    page_token: str = ""
