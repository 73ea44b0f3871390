"""Logged-model API messages to domain entities and back."""

from __future__ import annotations

from collections.abc import Iterable

from trackway.errors import invalid
from trackway.gen.tracking.v1 import logged_model_service_pb2 as pb
from trackway.tracking.logged_model_entities import (
    PENDING,
    READY,
    STATUSES,
    UPLOAD_FAILED,
    DatasetFilter,
    LoggedModel,
    ModelMetric,
)

_PREFIX = "LOGGED_MODEL_STATUS_"
_STATUS_TO_PROTO = {
    PENDING: pb.LOGGED_MODEL_STATUS_PENDING,
    READY: pb.LOGGED_MODEL_STATUS_READY,
    UPLOAD_FAILED: pb.LOGGED_MODEL_STATUS_UPLOAD_FAILED,
}


def status_from_proto(value: int) -> str:
    """The status a request names; an unknown or unspecified value is left to the service
    to refuse, with its list of the statuses it takes."""
    if value in pb.LoggedModelStatus.values():
        name = pb.LoggedModelStatus.Name(value).removeprefix(_PREFIX)
        if name in STATUSES:
            return name
    if value == pb.LOGGED_MODEL_STATUS_UNSPECIFIED:
        return ""
    raise invalid("status", f"{value} is not a logged model status")


def pairs(items: Iterable[pb.LoggedModelTag | pb.LoggedModelParam]) -> list[tuple[str, str]]:
    return [(item.key, item.value) for item in items]


def metric_from_proto(point: pb.LoggedModelMetric) -> ModelMetric:
    return ModelMetric(
        key=point.key,
        value=point.value,
        timestamp=point.timestamp,
        step=point.step,
        dataset_name=point.dataset_name,
        dataset_digest=point.dataset_digest,
    )


def dataset_from_proto(item: pb.LoggedModelDatasetFilter) -> DatasetFilter:
    return DatasetFilter(item.dataset_name, item.dataset_digest)


def model_to_proto(model: LoggedModel) -> pb.LoggedModel:
    return pb.LoggedModel(
        model_id=model.model_id,
        experiment_id=model.experiment_id,
        name=model.name,
        artifact_location=model.artifact_location,
        creation_timestamp=model.creation_timestamp,
        last_updated_timestamp=model.last_updated_timestamp,
        status=_STATUS_TO_PROTO[model.status],
        status_message=model.status_message,
        model_type=model.model_type,
        source_run_id=model.source_run_id,
        deleted=model.deleted,
        tags=[pb.LoggedModelTag(key=k, value=v) for k, v in model.tags.items()],
        params=[pb.LoggedModelParam(key=k, value=v) for k, v in model.params.items()],
        metrics=[
            pb.LoggedModelMetric(
                key=m.key,
                value=m.value,
                timestamp=m.timestamp,
                step=m.step,
                run_id=m.run_id,
                dataset_name=m.dataset_name,
                dataset_digest=m.dataset_digest,
            )
            for m in model.metrics
        ],
    )
