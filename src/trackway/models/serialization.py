"""Serializing model objects, and the one place where they are deserialized.

Unpickling runs code chosen by whoever wrote the file: a pickled model can do anything
the loading process can. So deserialization happens only here, only when a caller asks
for a model with `load_model` (an explicit act of trust), never when a model's metadata
is read, listed, registered or resolved. Load only models from sources you trust.

Formats: "cloudpickle" (the default: it also captures classes and functions defined in
`__main__` or a notebook), "pickle", and "skops" for reading models that MLflow saved
in that format (skops refuses types outside its trusted list).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from trackway.errors import InvalidArgument

FORMATS = ("cloudpickle", "pickle", "skops")
SAVE_FORMATS = ("cloudpickle", "pickle")


def dump(obj: Any, path: Path, serialization_format: str = "cloudpickle") -> None:
    """Writes `obj` to `path` in one of SAVE_FORMATS."""
    if serialization_format not in SAVE_FORMATS:
        raise InvalidArgument(
            f"serialization_format {serialization_format!r}: use one of {', '.join(SAVE_FORMATS)}"
        )
    with path.open("wb") as out:
        if serialization_format == "cloudpickle":
            import cloudpickle

            cloudpickle.dump(obj, out)
        else:
            pickle.dump(obj, out, protocol=pickle.DEFAULT_PROTOCOL)


def load_trusted(
    path: Path, serialization_format: str, skops_trusted_types: list[str] | None = None
) -> Any:
    """Deserializes a model file. This runs the file's code: callers reach it only
    through `load_model`, whose documentation says to load only trusted models."""
    if serialization_format not in FORMATS:
        raise InvalidArgument(
            f"MLmodel: serialization_format {serialization_format!r} is not one of "
            f"{', '.join(FORMATS)}"
        )
    if not path.is_file():
        raise InvalidArgument(f"the model file {path.name!r} is missing from {path.parent}")
    if serialization_format == "skops":
        try:
            import skops.io
        except ImportError:
            raise InvalidArgument(
                "this model was saved with skops; install skops to load it"
            ) from None
        return skops.io.load(path, trusted=skops_trusted_types)
    with path.open("rb") as src:
        # cloudpickle writes standard pickle streams; its module is only needed for
        # what it captured by value, which pickle.load reconstructs through it.
        return pickle.load(src)
