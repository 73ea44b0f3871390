"""The logged-model service: the one place where logged-model requests become store calls.

gRPC and the MLflow-compatible REST gateway both call this class, so the rules about
input (ids, names, sizes, statuses) are written once, here. Rules that need the
database's state inside a transaction (an active experiment, an existing run, a deleted
model, write-once params) live in the store.

Model ids are server-assigned, `m-` and 32 hex characters as MLflow makes them. An id of
any other shape names no model, so it is NOT_FOUND, as MLflow's server answers it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from trackway.errors import NotFound, invalid
from trackway.store.logged_model_store import SqlLoggedModelStore
from trackway.tracking import limits, names
from trackway.tracking import validation as check
from trackway.tracking.entities import Page
from trackway.tracking.logged_model_entities import (
    FINAL_STATUSES,
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_MODEL_TYPE_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SEARCH_DATASETS,
    MAX_STATUS_MESSAGE_LENGTH,
    SEARCH_DEFAULT_PAGE,
    SEARCH_MAX_PAGE,
    DatasetFilter,
    LoggedModel,
    ModelMetric,
    ModelSearch,
    NewLoggedModel,
)

_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
# MLflow's rule: a logged model's name is used in paths and filters.
_NAME_FORBIDDEN = ("/", ":", ".", "%", '"', "'")


def new_model_id() -> str:
    return f"m-{uuid.uuid4().hex}"


def is_model_id(value: str) -> bool:
    """True when `value` has the shape of a logged model's id."""
    return _MODEL_ID.fullmatch(value) is not None


def check_model_id(field_path: str, value: str) -> None:
    if not value:
        raise invalid(field_path, "is required")
    if not is_model_id(value):
        raise NotFound(f"logged model {value[:80]!r} does not exist")


class LoggedModelService:
    def __init__(self, store: SqlLoggedModelStore) -> None:
        self.store = store

    def create_logged_model(
        self,
        experiment_id: str,
        name: str = "",
        model_type: str = "",
        source_run_id: str = "",
        params: Sequence[tuple[str, str]] = (),
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> LoggedModel:
        eid = check.experiment_id("experiment_id", experiment_id)
        if name:
            _check_name(name)
        check.text("model_type", model_type, MAX_MODEL_TYPE_LENGTH)
        if source_run_id:
            check.run_id("source_run_id", source_run_id)
        check.params("params", params, MAX_BATCH_PARAMS)
        _check_tags(tags)
        check.request_id(request_id)
        new = NewLoggedModel(
            model_id=new_model_id(),
            experiment_id=eid,
            name=name or names.run_name(),
            model_type=model_type,
            source_run_id=source_run_id,
            params=list(params),
            tags=list(tags),
        )
        return self.store.create(new, request_id)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        check_model_id("model_id", model_id)
        return self.store.get(model_id, allow_deleted)

    def finalize_logged_model(
        self, model_id: str, status: str, status_message: str = "", request_id: str = ""
    ) -> LoggedModel:
        check_model_id("model_id", model_id)
        if status not in FINAL_STATUSES:
            raise invalid("status", f"{status!r} is not one of {', '.join(FINAL_STATUSES)}")
        check.text("status_message", status_message, MAX_STATUS_MESSAGE_LENGTH)
        check.request_id(request_id)
        return self.store.finalize(model_id, status, status_message, request_id)

    def delete_logged_model(self, model_id: str, request_id: str = "") -> None:
        check_model_id("model_id", model_id)
        check.request_id(request_id)
        self.store.delete(model_id, request_id)

    def set_logged_model_tags(
        self, model_id: str, tags: Sequence[tuple[str, str]], request_id: str = ""
    ) -> LoggedModel:
        check_model_id("model_id", model_id)
        _check_tags(tags)
        check.request_id(request_id)
        return self.store.set_tags(model_id, tags, request_id)

    def delete_logged_model_tag(self, model_id: str, key: str, request_id: str = "") -> None:
        check_model_id("model_id", model_id)
        check.key("key", key)
        check.request_id(request_id)
        self.store.delete_tag(model_id, key, request_id)

    def log_logged_model_params(
        self, model_id: str, params: Sequence[tuple[str, str]], request_id: str = ""
    ) -> None:
        check_model_id("model_id", model_id)
        check.params("params", params, MAX_BATCH_PARAMS)
        check.request_id(request_id)
        self.store.log_params(model_id, params, request_id)

    def log_logged_model_metrics(
        self,
        model_id: str,
        run_id: str,
        metrics: Sequence[ModelMetric],
        request_id: str = "",
    ) -> None:
        """Logs points measured by `run_id` ("" for none) on the model; each point's own
        run_id is ignored."""
        check_model_id("model_id", model_id)
        if run_id:
            check.run_id("run_id", run_id)
        check.count("metrics", metrics, MAX_BATCH_METRICS)
        for i, point in enumerate(metrics):
            _check_metric(f"metrics[{i}]", point)
        check.request_id(request_id)
        self.store.log_metrics(model_id, run_id, metrics, request_id)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_text: str = "",
        order_by: Sequence[str] = (),
        datasets: Sequence[DatasetFilter] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[LoggedModel]:
        if not experiment_ids:
            raise invalid("experiment_ids", "must name at least one experiment")
        check.count("experiment_ids", experiment_ids, limits.MAX_SEARCH_EXPERIMENT_IDS)
        ids = [check.experiment_id(f"experiment_ids[{i}]", e) for i, e in enumerate(experiment_ids)]
        check.text("filter", filter_text, limits.MAX_FILTER_LENGTH)
        check.count("order_by", order_by, limits.MAX_ORDER_BY_CLAUSES)
        check.count("datasets", datasets, MAX_SEARCH_DATASETS)
        for i, dataset in enumerate(datasets):
            _check_dataset(f"datasets[{i}]", dataset.name, dataset.digest, required=True)
        size = check.page_size("page_size", page_size, SEARCH_DEFAULT_PAGE, SEARCH_MAX_PAGE)
        query = ModelSearch(
            experiment_ids=tuple(ids),
            filter_text=filter_text,
            order_by=tuple(order_by),
            datasets=tuple(datasets),
            page_size=size,
            page_token=page_token,
        )
        return self.store.search(query)


def _check_name(name: str) -> None:
    check.text("name", name, MAX_NAME_LENGTH)
    bad = [c for c in _NAME_FORBIDDEN if c in name]
    if bad or not name.strip():
        raise invalid(
            "name",
            f"{name[:80]!r} must be non-blank and may not contain any of "
            f"{' '.join(_NAME_FORBIDDEN)}",
        )


def _check_tags(tags: Sequence[tuple[str, str]]) -> None:
    check.tags("tags", tags, MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH)


def _check_dataset(path: str, name: str, digest: str, *, required: bool) -> None:
    check.text(f"{path}.dataset_name", name, limits.MAX_DATASET_NAME_LENGTH, required=required)
    check.text(f"{path}.dataset_digest", digest, limits.MAX_DATASET_DIGEST_LENGTH)
    if digest and not name:
        raise invalid(f"{path}.dataset_digest", "is only allowed with a dataset_name")


def _check_metric(path: str, point: ModelMetric) -> None:
    check.key(f"{path}.key", point.key)
    check.timestamp(f"{path}.timestamp", point.timestamp)
    _check_dataset(path, point.dataset_name, point.dataset_digest, required=False)
