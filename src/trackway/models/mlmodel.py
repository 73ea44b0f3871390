"""The `MLmodel` file: what a saved model is, read and written as MLflow does.

Reading it never unpickles anything: the metadata of a model (from a registry read, a
listing, a UI) is plain YAML, parsed with `yaml.safe_load`. Only `load_model` deserializes
the model itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trackway.errors import InvalidArgument
from trackway.models.schema import Signature

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"


@dataclass
class ModelMetadata:
    """The parsed MLmodel. `flavors` maps a flavor name ("python_function", "sklearn")
    to its settings; `extra` keeps every other key as read, so a rewrite loses nothing."""

    flavors: dict[str, dict[str, Any]]
    signature: Signature | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    saved_input_example_info: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pyfunc(self) -> dict[str, Any] | None:
        """The `python_function` flavor's settings, or None when it has none."""
        return self.flavors.get(PYFUNC_FLAVOR)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "artifact_path": self.artifact_path,
            "flavors": self.flavors,
            "model_uuid": self.model_uuid,
            "run_id": self.run_id,
            "utc_time_created": self.utc_time_created,
        }
        if self.signature is not None:
            found["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            found["saved_input_example_info"] = self.saved_input_example_info
        if self.metadata:
            found["metadata"] = self.metadata
        found.update(self.extra)
        return {k: v for k, v in sorted(found.items()) if v is not None}

    def save(self, model_dir: str | Path) -> Path:
        target = Path(model_dir) / MLMODEL_FILE
        target.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
        return target

    @classmethod
    def from_dict(cls, found: dict[str, Any], where: str = MLMODEL_FILE) -> ModelMetadata:
        rest = dict(found)
        flavors = rest.pop("flavors", None)
        if not isinstance(flavors, dict) or not flavors:
            raise InvalidArgument(f"{where}: 'flavors' is missing; this is not a model")
        signature = rest.pop("signature", None)
        try:
            parsed = Signature.from_dict(signature) if isinstance(signature, dict) else None
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(f"{where}: the signature is malformed: {exc}") from None
        return cls(
            flavors={str(k): dict(v or {}) for k, v in flavors.items()},
            signature=parsed,
            run_id=rest.pop("run_id", None),
            artifact_path=rest.pop("artifact_path", None),
            model_uuid=str(rest.pop("model_uuid", None) or ""),
            utc_time_created=str(rest.pop("utc_time_created", None) or ""),
            saved_input_example_info=rest.pop("saved_input_example_info", None),
            metadata=rest.pop("metadata", None),
            extra=rest,
        )

    @classmethod
    def load(cls, model_dir: str | Path) -> ModelMetadata:
        """Reads `<model_dir>/MLmodel`; InvalidArgument when it is missing or malformed."""
        path = Path(model_dir) / MLMODEL_FILE
        if not path.is_file():
            raise InvalidArgument(f"{model_dir} holds no {MLMODEL_FILE} file; it is not a model")
        try:
            found = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(found, dict):
            raise InvalidArgument(f"{path} is not a mapping of settings")
        return cls.from_dict(found, str(path))


def inside(model_dir: str | Path, relative: object, what: str) -> Path:
    """`model_dir/relative`, refusing a name from the MLmodel file that would lead out of
    the model's folder (absolute, `..`, or a symlink out): the file came with the model,
    and a model must not make us read elsewhere."""
    if not isinstance(relative, str) or not relative:
        raise InvalidArgument(f"MLmodel: {what} must name a file of the model, not {relative!r}")
    root = Path(model_dir).resolve()
    target = (root / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(root):
        raise InvalidArgument(f"MLmodel: {what} {relative!r} lies outside the model's folder")
    return target
