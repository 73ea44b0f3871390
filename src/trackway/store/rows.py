"""Table rows to domain entities. Tables are not API messages, and neither are entities."""

from __future__ import annotations

from typing import Any

from trackway.tracking.entities import Experiment, RunInfo


def experiment(row: Any, tags: dict[str, str] | None = None) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags or {},
    )


def run_info(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_id,
        experiment_id=str(row.experiment_id),
        run_name=row.name,
        user_id=row.user_id,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
        parent_run_id=row.parent_run_id,
    )
