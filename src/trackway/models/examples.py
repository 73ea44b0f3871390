"""Input examples: saved next to the model in MLflow's files and shapes.

- A table: `input_example.json` holds `{"columns": [...], "data": [[...], ...]}` (pandas'
  "split" orientation without the index); `serving_input_example.json` wraps it as
  `{"dataframe_split": ...}`, a request body the scoring server accepts as is.
- An array: `input_example.json` holds the nested lists; the serving form is
  `{"inputs": ...}`.

`saved_input_example_info` in the MLmodel file says which, so either tool reads it back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trackway.errors import InvalidArgument
from trackway.models.inference import as_frame
from trackway.models.mlmodel import ModelMetadata, inside

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def normalize(example: Any) -> Any:
    """A DataFrame for tabular examples, a numpy array for arrays and lists of numbers."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        if isinstance(example, pd.DataFrame):
            return example
        if isinstance(example, pd.Series):
            return example.to_frame()
        if isinstance(example, dict) or (
            isinstance(example, list) and example and all(isinstance(r, dict) for r in example)
        ):
            return as_frame(example)
    if isinstance(example, (np.ndarray, list, tuple)):
        return np.asarray(example)
    raise TypeError(
        f"an input example is a DataFrame, a dict of columns, a list of records or an "
        f"array, not {type(example).__name__}"
    )


def save(model_dir: Path, example: Any) -> dict[str, Any]:
    """Writes the example files; returns `saved_input_example_info`."""
    if isinstance(example, np.ndarray):
        data = example.tolist()
        info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE, "type": "ndarray"}
        serving: dict[str, Any] = {"inputs": data}
    else:
        data = json.loads(example.to_json(orient="split", index=False, date_format="iso"))
        info = {"artifact_path": EXAMPLE_FILE, "type": "dataframe", "pandas_orient": "split"}
        serving = {"dataframe_split": data}
    (model_dir / EXAMPLE_FILE).write_text(json.dumps(data), encoding="utf-8")
    (model_dir / SERVING_EXAMPLE_FILE).write_text(json.dumps(serving, indent=2), encoding="utf-8")
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    return info


def load(model_dir: str | Path, meta: ModelMetadata) -> Any:
    """The saved example (a DataFrame or an array), or None when the model has none."""
    info = meta.saved_input_example_info
    if not info:
        return None
    path = inside(model_dir, info.get("artifact_path"), "saved_input_example_info.artifact_path")
    found = json.loads(path.read_text(encoding="utf-8"))
    kind = info.get("type")
    if kind == "ndarray":
        if isinstance(found, dict) and "inputs" in found:  # MLflow's older tensor form
            found = found["inputs"]
        return np.asarray(found)
    if kind == "dataframe":
        import pandas as pd

        if isinstance(found, dict) and "dataframe_split" in found:
            found = found["dataframe_split"]
        return pd.DataFrame(found["data"], columns=found["columns"])
    if kind == "json_object":
        return found
    raise InvalidArgument(f"MLmodel: input example type {kind!r} is not one this loader reads")
