"""log_model: save a model, upload it into the active run, optionally register it."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackway.client import TrackwayClient
from trackway.client.registry import ModelVersion
from trackway.errors import AlreadyExists, InvalidArgument
from trackway.fluent.log import current_run
from trackway.models.mlmodel import ModelMetadata
from trackway.models.save import save_model
from trackway.models.schema import Signature
from trackway.tracking.limits import MAX_RUN_TAG_VALUE_LENGTH

# MLflow's run tag listing the models logged into a run; its UI reads it.
HISTORY_TAG = "mlflow.log-model.history"


@dataclass(frozen=True)
class ModelInfo:
    """A logged model: `model_uri` (`runs:/<run_id>/<artifact_path>`) loads it, and
    `registered_model_version` is the version created when a name was given."""

    run_id: str
    artifact_path: str
    model_uri: str
    metadata: ModelMetadata
    registered_model_version: ModelVersion | None = None

    @property
    def flavors(self) -> dict[str, dict[str, Any]]:
        return self.metadata.flavors

    @property
    def signature(self) -> Signature | None:
        return self.metadata.signature

    @property
    def model_uuid(self) -> str:
        return self.metadata.model_uuid

    @property
    def utc_time_created(self) -> str:
        return self.metadata.utc_time_created


def log_model(
    model: Any,
    artifact_path: str | None = None,
    *,
    name: str | None = None,
    flavor: str | None = None,
    input_example: Any = None,
    signature: Signature | None = None,
    pip_requirements: Sequence[str] | None = None,
    extra_pip_requirements: Sequence[str] | None = None,
    registered_model_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    model_config: Mapping[str, Any] | None = None,
    serialization_format: str = "cloudpickle",
    pyfunc_predict_fn: str = "predict",
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    extra_files: Sequence[str | os.PathLike[str]] | None = None,
) -> ModelInfo:
    """Saves `model` (see `save_model` for the options) and uploads it to the folder
    `artifact_path` (or `name`, MLflow 3's spelling; default "model") of the active
    run, starting a run if none is active. With `registered_model_name`, also registers
    it as a new version of that model (created if new)."""
    if artifact_path and name and artifact_path != name:
        raise InvalidArgument("give artifact_path or name, not both")
    path = (artifact_path or name or "model").strip("/")
    if not path:
        raise InvalidArgument("artifact_path must name a folder of the run")
    run = current_run()
    with tempfile.TemporaryDirectory(prefix="trackway-model-") as tmp:
        local = Path(tmp) / "model"
        meta = save_model(
            model,
            local,
            flavor=flavor,
            input_example=input_example,
            signature=signature,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
            artifacts=artifacts,
            model_config=model_config,
            serialization_format=serialization_format,
            pyfunc_predict_fn=pyfunc_predict_fn,
            code_paths=code_paths,
            extra_files=extra_files,
            _run_id=run.run_id,
            _artifact_path=path,
        )
        run.client.log_artifacts(run.run_id, local, path)
    _add_to_history(run.client, run.run_id, meta)
    uri = f"runs:/{run.run_id}/{path}"
    version = None
    if registered_model_name:
        with contextlib.suppress(AlreadyExists):
            run.client.create_registered_model(registered_model_name)
        version = run.client.create_model_version(registered_model_name, uri, run_id=run.run_id)
    return ModelInfo(run.run_id, path, uri, meta, version)


def _add_to_history(client: TrackwayClient, run_id: str, meta: ModelMetadata) -> None:
    """Appends the model to the run's history tag, dropping the oldest entries when the
    tag would pass the server's length limit."""
    current = client.get_run(run_id).data.tags.get(HISTORY_TAG, "")
    try:
        entries = json.loads(current) if current else []
    except ValueError:
        entries = []
    if not isinstance(entries, list):
        entries = []
    entry = {k: v for k, v in meta.to_dict().items() if k not in ("signature", "metadata")}
    entries.append(entry)
    text = json.dumps(entries)
    while len(text) > MAX_RUN_TAG_VALUE_LENGTH and len(entries) > 1:
        entries.pop(0)
        text = json.dumps(entries)
    if len(text) <= MAX_RUN_TAG_VALUE_LENGTH:
        client.set_tag(run_id, HISTORY_TAG, text)
