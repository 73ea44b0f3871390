"""Signature enforcement: check a scoring request's data against a model's signature.

The interface, for the scoring server and anyone else who feeds a model untrusted data:

    model = trackway.models.load_model(uri)
    data = validate_input(model.metadata.signature, frame_or_array)
    predictions = model.predict(data)

`validate_input(signature, data)`:

- `signature` is `model.metadata.signature` (a `Signature`, or None for a model saved
  without one, in which case the data is returned as it came, tables made DataFrames).
- Column-based signatures take a pandas DataFrame, a dict of columns (scalars make one
  row), a list of records, or a 2-D array/list of rows with one value per column in
  signature order. They return a DataFrame with the signature's columns in its order,
  each converted to its declared type; columns the signature does not name are dropped,
  optional columns (`required: false`) may be missing.
- Tensor-based signatures take a numpy array or nested lists (or a DataFrame, read as
  its values), and return a numpy array of the declared dtype; a signature of several
  named tensors takes and returns a dict of arrays.
- Every problem raises `trackway.errors.InvalidArgument` (a 400 for an HTTP server).
  Its message lists each problem, e.g. `missing column 'age'` or `column 'age' must be
  long; got values of type float64 with fractions`, and its `violations` carry one
  FieldViolation per problem whose `field` is the column or tensor name (or
  `input` for the whole payload).

Conversions are the lossless ones: integers widen to floats, integral floats narrow to
integers, ISO strings become datetimes; nothing is rounded or truncated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trackway.errors import FieldViolation, InvalidArgument
from trackway.models.inference import as_frame
from trackway.models.schema import ColumnSpec, Signature, Spec, TensorSpec

__all__ = ["ColumnSpec", "Signature", "Spec", "TensorSpec", "validate_input"]


def validate_input(signature: Signature | None, data: Any) -> Any:
    """`data` checked against `signature` and converted to what the model expects (a
    DataFrame or a numpy array); raises InvalidArgument naming each problem."""
    if signature is None or not signature.inputs:
        return _table_if_table(data)
    if signature.is_tensor_based:
        return _validate_tensors([s for s in signature.inputs if isinstance(s, TensorSpec)], data)
    return _validate_columns([s for s in signature.inputs if isinstance(s, ColumnSpec)], data)


def _fail(problems: list[tuple[str, str]]) -> InvalidArgument:
    text = "; ".join(description for _, description in problems)
    return InvalidArgument(
        f"the input does not match the model's signature: {text}",
        [FieldViolation(name, description) for name, description in problems],
    )


def _table_if_table(data: Any) -> Any:
    if isinstance(data, Mapping) or (
        isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data)
    ):
        return _frame(data)
    return data


def _frame(data: Any) -> Any:
    """`as_frame(data)`, except that a dict of columns of different lengths is an
    InvalidArgument naming each length (pandas raises a bare ValueError, which callers
    could not tell from a bug). Scalars are not columns: pandas repeats them."""
    if isinstance(data, Mapping):
        lengths = {
            str(name): len(values)
            for name, values in data.items()
            if not np.isscalar(values) and values is not None and hasattr(values, "__len__")
        }
        if len(set(lengths.values())) > 1:
            counts = ", ".join(f"{name!r} has {n}" for name, n in lengths.items())
            text = f"the columns must have the same number of values; {counts}"
            raise InvalidArgument(text, [FieldViolation("input", text)])
    return as_frame(data)


# Columns


def _validate_columns(specs: list[ColumnSpec], data: Any) -> Any:
    import pandas as pd

    frame = _as_columns(specs, data)
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    names = [spec.name or str(i) for i, spec in enumerate(specs)]
    missing = [n for n, s in zip(names, specs, strict=True) if s.required and n not in frame]
    problems += [(n, f"missing column {n!r}") for n in missing]
    for name, spec in zip(names, specs, strict=True):
        if name not in frame:
            continue
        try:
            out[name] = _convert_column(spec, frame[name])
        except _Mismatch as exc:
            problems.append((name, f"column {name!r} must be {spec.type}; {exc}"))
    if problems:
        raise _fail(problems)
    result = pd.DataFrame(out, index=frame.index)
    if all(spec.name is None for spec in specs):
        result.columns = list(range(len(result.columns)))
    return result


def _as_columns(specs: list[ColumnSpec], data: Any) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(specs[0].name or 0)
    elif isinstance(data, Mapping) or (
        isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data)
    ):
        frame = _frame(data)
    elif isinstance(data, (np.ndarray, list, tuple)):
        rows = np.asarray(data, dtype=object)
        if rows.ndim == 1 and len(specs) == 1:
            rows = rows.reshape(-1, 1)
        if rows.ndim != 2 or rows.shape[1] != len(specs):
            raise _fail(
                [("input", f"expected rows of {len(specs)} values, got shape {rows.shape}")]
            )
        frame = pd.DataFrame(
            {spec.name or str(i): _infer(rows[:, i]) for i, spec in enumerate(specs)}
        )
        return frame
    else:
        raise _fail(
            [("input", f"expected a table (DataFrame, dict or records), not {type(data).__name__}")]
        )
    if all(spec.name is None for spec in specs):
        if frame.shape[1] < sum(s.required for s in specs):
            raise _fail([("input", f"expected {len(specs)} columns, got {frame.shape[1]}")])
        frame = frame.set_axis([str(i) for i in range(frame.shape[1])], axis=1)
    else:
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    return frame


def _infer(values: np.ndarray[Any, Any]) -> Any:
    """An object column with its natural dtype (all ints become int64, and so on)."""
    import pandas as pd

    return pd.Series(list(values)).infer_objects()


class _Mismatch(Exception):
    """A column's values do not fit its declared type; the text says how."""


def _convert_column(spec: ColumnSpec, column: Any) -> Any:
    import pandas as pd

    if spec.raw is not None:  # a compound MLflow type: presence is all we check
        return column
    dtype = column.dtype
    described = _describe(column)
    if spec.type == "boolean":
        if pd.api.types.is_bool_dtype(dtype):
            return column.astype(bool)
        raise _Mismatch(f"got {described}")
    if spec.type in ("integer", "long"):
        return _to_integer(column, np.int32 if spec.type == "integer" else np.int64, described)
    if spec.type in ("float", "double"):
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            raise _Mismatch(f"got {described}")
        return column.astype(np.float32 if spec.type == "float" else np.float64)
    if spec.type == "string":
        if _all_values(column, str):
            return column
        raise _Mismatch(f"got {described}")
    if spec.type == "binary":
        if _all_values(column, (bytes, bytearray)):
            return column
        raise _Mismatch(f"got {described}")
    if spec.type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return column
        try:
            return pd.to_datetime(column, format="ISO8601")
        except (ValueError, TypeError):
            raise _Mismatch(f"got {described} that are not ISO 8601 datetimes") from None
    return column


def _to_integer(column: Any, target: type[np.integer[Any]], described: str) -> Any:
    import pandas as pd

    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise _Mismatch(f"got {described}")
    values = column.to_numpy()
    if pd.api.types.is_float_dtype(dtype):
        if np.isnan(values).any():
            raise _Mismatch("got missing values (NaN); declare the column double to allow them")
        if not np.all(np.mod(values, 1) == 0):
            raise _Mismatch(f"got {described} with fractions")
    limits = np.iinfo(target)
    if len(values) and (values.min() < limits.min or values.max() > limits.max):
        raise _Mismatch(f"got values outside the {np.dtype(target).name} range")
    return column.astype(target)


def _all_values(column: Any, kind: type | tuple[type, ...]) -> bool:
    return all(isinstance(v, kind) for v in column.tolist() if v is not None)


def _describe(column: Any) -> str:
    import pandas as pd

    if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
        kinds = sorted({type(v).__name__ for v in column.tolist() if v is not None})
        return f"values of type {', '.join(kinds) or 'None'}"
    return f"values of type {column.dtype}"


# Tensors


def _validate_tensors(specs: list[TensorSpec], data: Any) -> Any:
    if len(specs) == 1 and not isinstance(data, Mapping):
        return _check_tensor(specs[0], data, specs[0].name or "input")
    if not isinstance(data, Mapping):
        raise _fail([("input", f"expected a dict of the tensors {_names(specs)}")])
    problems = [
        (spec.name or "", f"missing tensor {spec.name!r}")
        for spec in specs
        if spec.name not in data
    ]
    if problems:
        raise _fail(problems)
    return {spec.name: _check_tensor(spec, data[spec.name], spec.name or "") for spec in specs}


def _names(specs: list[TensorSpec]) -> str:
    return ", ".join(repr(s.name) for s in specs)


def _check_tensor(spec: TensorSpec, data: Any, label: str) -> np.ndarray[Any, Any]:
    values = getattr(data, "to_numpy", None)
    array = np.asarray(values() if callable(values) else data)
    problems: list[tuple[str, str]] = []
    if array.ndim != len(spec.shape) or any(
        want not in (-1, have) for want, have in zip(spec.shape, array.shape, strict=False)
    ):
        problems.append(
            (label, f"tensor {label!r} must have shape {_shape(spec.shape)}, got {array.shape}")
        )
    try:
        target = np.dtype(spec.type if spec.type not in ("str", "bytes") else spec.type[0].upper())
    except TypeError:
        target = np.dtype(object)
    if not _castable(array.dtype, target):
        problems.append(
            (label, f"tensor {label!r} must be {spec.type}, got values of type {array.dtype}")
        )
    if problems:
        raise _fail(problems)
    return array if target.kind in "OUS" else array.astype(target, copy=False)


def _castable(have: np.dtype[Any], want: np.dtype[Any]) -> bool:
    if want.kind == "O":
        return True
    if want.kind in "US":
        return have.kind == want.kind or have.kind == "O"
    if have.kind == "b" and want.kind != "b":
        return False
    return bool(np.can_cast(have, want, casting="same_kind"))


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join("any" if n == -1 else str(n) for n in shape) + ")"
