"""Domain entities of the model registry. API messages and table rows both convert to these."""

from __future__ import annotations

from dataclasses import dataclass, field

# Stages as MLflow spells them; `None` is the stage of a version never transitioned.
STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
# The stages whose other versions `archive_existing_versions` moves to Archived.
ACTIVE_STAGES = (STAGE_STAGING, STAGE_PRODUCTION)

PENDING_REGISTRATION = "PENDING_REGISTRATION"
FAILED_REGISTRATION = "FAILED_REGISTRATION"
READY = "READY"
STATUSES = (PENDING_REGISTRATION, FAILED_REGISTRATION, READY)


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    source: str
    storage_location: str
    run_id: str
    run_link: str
    current_stage: str
    status: str
    status_message: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    # alias -> version number, ordered by alias.
    aliases: dict[str, int] = field(default_factory=dict)
    # The newest READY version in each stage that has one, in the order of STAGES.
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass(slots=True)
class NewVersion:
    """What CreateModelVersion writes, once the service has checked and resolved it."""

    name: str
    source: str
    storage_location: str
    run_id: str
    run_link: str
    description: str
    tags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a `models:/` or `runs:/` URI points: an artifact URI below the server's
    artifact root, the model version it named (None for `runs:/`), and the run behind it."""

    artifact_uri: str
    model_version: ModelVersion | None
    run_id: str
