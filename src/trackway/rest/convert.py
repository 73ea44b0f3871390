"""Tracking entities as MLflow's JSON: proto snake_case names, enums by name, int64 as
numbers, doubles through `jsonio.number`, and unset optional fields left out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackway.artifacts.repository import FileInfo
from trackway.errors import invalid
from trackway.rest.jsonio import number
from trackway.rest.uris import ArtifactUris
from trackway.store.history import Points
from trackway.tracking.entities import RUN_STATUSES, Experiment, Run, RunInfo

PARENT_TAG = "mlflow.parentRunId"
_VIEWS = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}
_VIEW_NUMBERS = {1: "active", 2: "deleted", 3: "all"}


def view(field_path: str, value: Any) -> str:
    """MLflow's ViewType (a name, or its number) as the service's view."""
    if value is None or value == "":
        return "active"
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    found = _VIEW_NUMBERS.get(value) if isinstance(value, int) else _VIEWS.get(value)
    if found is None:
        raise invalid(field_path, f"{str(value)[:50]!r} is not ACTIVE_ONLY, DELETED_ONLY or ALL")
    return found


def status(field_path: str, value: Any) -> str:
    """MLflow's RunStatus (a name, or its number 1-5) as the service's status."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return RUN_STATUSES[value - 1]
    if isinstance(value, str) and value in RUN_STATUSES:
        return value
    raise invalid(field_path, f"{str(value)[:50]!r} is not one of {', '.join(RUN_STATUSES)}")


def tags(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def experiment(exp: Experiment, uris: ArtifactUris) -> dict[str, Any]:
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": uris.to_client(exp.artifact_location),
        "lifecycle_stage": exp.lifecycle_stage,
        "last_update_time": exp.last_update_time,
        "creation_time": exp.creation_time,
        "tags": tags(exp.tags),
    }


def run_info(info: RunInfo, uris: ArtifactUris) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "artifact_uri": uris.to_client(info.artifact_uri),
        "lifecycle_stage": info.lifecycle_stage,
    }
    if info.end_time is not None:
        out["end_time"] = info.end_time
    return out


def run(found: Run, uris: ArtifactUris) -> dict[str, Any]:
    run_tags = found.tags
    parent = found.info.parent_run_id
    if parent and PARENT_TAG not in run_tags:
        # MLflow has no parent field: a nested run is one with this tag.
        run_tags = {**run_tags, PARENT_TAG: parent}
    data: dict[str, Any] = {
        "metrics": [
            {"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}
            for m in found.metrics
        ],
        "params": [{"key": k, "value": v} for k, v in found.params.items()],
        "tags": tags(run_tags),
    }
    inputs = {
        "dataset_inputs": [
            {
                "tags": [{"key": k, "value": v} for k, v in item.tags],
                "dataset": _dataset(item.dataset),
            }
            for item in found.inputs
        ]
    }
    return {"info": run_info(found.info, uris), "data": data, "inputs": inputs}


def _dataset(ds: Any) -> dict[str, str]:
    out = {"name": ds.name, "digest": ds.digest}
    for name in ("source_type", "source", "schema", "profile"):
        value = getattr(ds, name)
        if value:
            out[name] = value
    return out


def history(key: str, points: Points, run_id: str = "") -> list[dict[str, Any]]:
    """A series' points as MLflow Metric objects, in step order."""
    out = []
    for step, timestamp, value in zip(points.steps, points.timestamps, points.values, strict=True):
        item: dict[str, Any] = {
            "key": key,
            "value": "NaN" if value is None else number(value),
            "timestamp": timestamp,
            "step": step,
        }
        if run_id:
            item["run_id"] = run_id
        out.append(item)
    return out


def files(found: Sequence[FileInfo], strip: str = "") -> list[dict[str, Any]]:
    """FileInfo as MLflow's, paths with `strip/` cut off the front."""
    cut = len(strip) + 1 if strip else 0
    out = []
    for f in found:
        item: dict[str, Any] = {"path": f.path[cut:], "is_dir": f.is_dir}
        if not f.is_dir:
            item["file_size"] = f.size
        out.append(item)
    return out
