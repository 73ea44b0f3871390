"""A model's signature: the columns or tensors it takes and returns.

The MLmodel file stores each schema as a JSON string inside the YAML, exactly as MLflow
does, so that either tool reads the other's signatures:

    signature:
      inputs: '[{"type": "double", "name": "x", "required": true}]'
      outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
      params: null

A schema is either column-based (a table: each column has a name and one of MLflow's
scalar types) or tensor-based (arrays: a numpy dtype and a shape, -1 for "any size").
Column types that MLflow has and we do not check (arrays, objects, maps) are kept as
they came and only checked for presence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# MLflow's scalar column types, in the order of the numpy kinds they come from.
COLUMN_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table: `type` is one of COLUMN_TYPES (or MLflow's JSON for a
    compound type, in `raw`); `name` is None for a positional column."""

    type: str
    name: str | None = None
    required: bool = True
    raw: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def shape(self) -> None:
        """Columns have no shape; present so that every spec reads alike."""
        return None

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return dict(self.raw)
        found: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            found["name"] = self.name
        found["required"] = self.required
        return found


@dataclass(frozen=True)
class TensorSpec:
    """One array: `type` is a numpy dtype name ("float64", "int64", "bool", "str",
    "object"), `shape` a tuple where -1 means any size along that axis."""

    type: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "tensor"}
        if self.name is not None:
            found["name"] = self.name
        found["tensor-spec"] = {"dtype": self.type, "shape": list(self.shape)}
        return found


Spec = ColumnSpec | TensorSpec


@dataclass(frozen=True)
class Signature:
    """What a model takes (`inputs`) and returns (`outputs`, None when unknown).
    `params` is MLflow's inference-parameter schema, kept as parsed JSON."""

    inputs: list[Spec]
    outputs: list[Spec] | None = None
    params: list[dict[str, Any]] | None = None

    @property
    def is_tensor_based(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def to_dict(self) -> dict[str, str | None]:
        """The MLmodel form: each schema as a JSON string."""
        return {
            "inputs": _dump(self.inputs),
            "outputs": _dump(self.outputs) if self.outputs is not None else None,
            "params": json.dumps(self.params) if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, found: dict[str, Any]) -> Signature:
        """Parses the MLmodel form (ours or MLflow's); ValueError when it is malformed."""
        inputs = _load(found.get("inputs")) or []
        outputs = _load(found.get("outputs"))
        params_text = found.get("params")
        params = json.loads(params_text) if isinstance(params_text, str) else params_text
        return cls(inputs, outputs, params)


def _dump(specs: list[Spec]) -> str:
    return json.dumps([spec.to_dict() for spec in specs])


def _load(text: object) -> list[Spec] | None:
    if text is None or text == "":
        return None
    items = json.loads(text) if isinstance(text, str) else text
    if not isinstance(items, list):
        raise ValueError(f"a schema is a JSON list of columns or tensors, not {text!r:.200}")
    return [_spec(item) for item in items]


def _spec(item: object) -> Spec:
    if not isinstance(item, dict) or "type" not in item:
        raise ValueError(f"a schema entry needs a 'type': {item!r:.200}")
    name = item.get("name")
    kind = item["type"]
    if kind == "tensor":
        tensor = item.get("tensor-spec") or {}
        return TensorSpec(
            str(tensor.get("dtype", "object")),
            tuple(int(n) for n in tensor.get("shape", [])),
            name,
        )
    required = bool(item.get("required", True))
    if isinstance(kind, str) and kind in COLUMN_TYPES:
        return ColumnSpec(kind, name, required)
    # A compound MLflow type (array, object, map, any): keep it whole, check presence only.
    label = kind if isinstance(kind, str) else "object"
    return ColumnSpec(label, name, required, raw=dict(item))
