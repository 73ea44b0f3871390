"""Signature inference from an input example (and, when known, the model's output).

Tables (pandas DataFrames, dicts of columns, lists of records) give column-based
schemas; numpy arrays (and plain lists of numbers) give tensor-based ones whose first
axis is -1, since a batch may have any number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trackway.models.schema import ColumnSpec, Signature, Spec, TensorSpec


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """The signature of a model that takes `model_input` and returns `model_output`
    (left unset when None). Raises TypeError for data it cannot describe."""
    outputs = infer_schema(model_output) if model_output is not None else None
    return Signature(infer_schema(model_input), outputs)


def infer_schema(data: Any) -> list[Spec]:
    """The columns of a table, or the tensor of an array."""
    pd = _pandas()
    if pd is not None:
        if isinstance(data, pd.DataFrame):
            return [ColumnSpec(_column_type(data[c]), str(c)) for c in data.columns]
        if isinstance(data, pd.Series):
            name = None if data.name is None else str(data.name)
            return [ColumnSpec(_column_type(data), name)]
        if _is_table(data):
            return infer_schema(as_frame(data))
    if isinstance(data, np.ndarray):
        return [TensorSpec(tensor_type(data.dtype), (-1, *data.shape[1:]))]
    if isinstance(data, (list, tuple)):
        return infer_schema(np.asarray(data))
    raise TypeError(
        f"cannot infer a schema from {type(data).__name__}: use a pandas DataFrame, a dict "
        "of columns, a list of records or a numpy array"
    )


def _is_table(data: Any) -> bool:
    if isinstance(data, Mapping):
        return True
    return isinstance(data, list) and bool(data) and all(isinstance(r, Mapping) for r in data)


def as_frame(data: Any) -> Any:
    """A DataFrame from a dict of columns (scalars make one row) or a list of records."""
    import pandas as pd

    if isinstance(data, Mapping):
        if all(np.isscalar(v) or v is None for v in data.values()):
            return pd.DataFrame([dict(data)])
        return pd.DataFrame(dict(data))
    return pd.DataFrame.from_records(list(data))


def tensor_type(dtype: np.dtype[Any]) -> str:
    """The dtype name that MLflow's tensor specs use."""
    if dtype.kind == "U":
        return "str"
    if dtype.kind == "S":
        return "bytes"
    return dtype.name


_INT_TYPES = {1: "integer", 2: "integer", 4: "integer", 8: "long"}


def _column_type(series: Any) -> str:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _column_type(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        # An unsigned 32-bit value does not fit MLflow's 32-bit "integer".
        size = dtype.itemsize * (2 if pd.api.types.is_unsigned_integer_dtype(dtype) else 1)
        return _INT_TYPES.get(size, "long")
    if pd.api.types.is_float_dtype(dtype):
        return "float" if dtype.itemsize <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    return _object_type(series)


def _object_type(series: Any) -> str:
    values = [v for v in series.tolist() if v is not None]
    for kind, label in ((str, "string"), (bytes, "binary"), (bool, "boolean")):
        if values and all(isinstance(v, kind) for v in values):
            return label
    if not values:
        return "string"
    seen = sorted({type(v).__name__ for v in values})
    raise TypeError(
        f"column {series.name!r} holds values of types {', '.join(seen)}; a column needs "
        "one scalar type (string, bytes, bool or a number)"
    )


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # numpy-only environments still get tensor signatures
        return None
    return pandas
