"""Registry API messages to domain entities and back."""

from __future__ import annotations

from collections.abc import Iterable

from trackway.errors import invalid
from trackway.gen.registry.v1 import model_version_pb2 as mvpb
from trackway.gen.registry.v1 import registered_model_pb2 as rmpb
from trackway.registry.entities import (
    FAILED_REGISTRATION,
    PENDING_REGISTRATION,
    READY,
    STAGE_ARCHIVED,
    STAGE_NONE,
    STAGE_PRODUCTION,
    STAGE_STAGING,
    ModelVersion,
    RegisteredModel,
)

_STAGE_TO_PROTO = {
    STAGE_NONE: mvpb.MODEL_VERSION_STAGE_NONE,
    STAGE_STAGING: mvpb.MODEL_VERSION_STAGE_STAGING,
    STAGE_PRODUCTION: mvpb.MODEL_VERSION_STAGE_PRODUCTION,
    STAGE_ARCHIVED: mvpb.MODEL_VERSION_STAGE_ARCHIVED,
}
_STAGE_FROM_PROTO: dict[int, str] = {int(v): k for k, v in _STAGE_TO_PROTO.items()}
_STATUS_TO_PROTO = {
    PENDING_REGISTRATION: mvpb.MODEL_VERSION_STATUS_PENDING_REGISTRATION,
    FAILED_REGISTRATION: mvpb.MODEL_VERSION_STATUS_FAILED_REGISTRATION,
    READY: mvpb.MODEL_VERSION_STATUS_READY,
}


def stage_from_proto(field_path: str, value: int) -> str:
    if value not in _STAGE_FROM_PROTO:
        raise invalid(
            field_path,
            f"{value} is not a model version stage (NONE, STAGING, PRODUCTION or ARCHIVED)",
        )
    return _STAGE_FROM_PROTO[value]


def stages_from_proto(field_path: str, values: Iterable[int]) -> list[str]:
    return [stage_from_proto(f"{field_path}[{i}]", v) for i, v in enumerate(values)]


def model_version_to_proto(version: ModelVersion) -> mvpb.ModelVersion:
    return mvpb.ModelVersion(
        name=version.name,
        version=version.version,
        creation_timestamp=version.creation_timestamp,
        last_updated_timestamp=version.last_updated_timestamp,
        description=version.description,
        source=version.source,
        storage_location=version.storage_location,
        run_id=version.run_id,
        run_link=version.run_link,
        current_stage=_STAGE_TO_PROTO[version.current_stage],
        status=_STATUS_TO_PROTO[version.status],
        status_message=version.status_message,
        tags=[mvpb.ModelVersionTag(key=k, value=v) for k, v in version.tags.items()],
        aliases=version.aliases,
    )


def registered_model_to_proto(model: RegisteredModel) -> rmpb.RegisteredModel:
    return rmpb.RegisteredModel(
        name=model.name,
        creation_timestamp=model.creation_timestamp,
        last_updated_timestamp=model.last_updated_timestamp,
        description=model.description,
        tags=[rmpb.RegisteredModelTag(key=k, value=v) for k, v in model.tags.items()],
        aliases=[rmpb.RegisteredModelAlias(alias=a, version=v) for a, v in model.aliases.items()],
        latest_versions=[model_version_to_proto(v) for v in model.latest_versions],
    )


def tag_items(
    tags: Iterable[rmpb.RegisteredModelTag | mvpb.ModelVersionTag],
) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in tags]
