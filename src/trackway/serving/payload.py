"""Scoring requests in, predictions out, in MLflow's scoring-server formats.

A JSON body holds exactly one of:

- `dataframe_split`: `{"columns": [...], "data": [[...], ...], "index": [...]?}`;
- `dataframe_records`: `[{"column": value, ...}, ...]`;
- `instances`: a list of rows or records (TF-serving's row format);
- `inputs`: arrays, a dict of named arrays, or a dict of columns (TF-serving's columnar
  format);

plus an optional `params` object handed to the model's predict. A `text/csv` body is a
table with a header row. Every problem is an InvalidArgument that names it; nothing here
evaluates the model.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from trackway.errors import InvalidArgument

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON = "application/json"
CSV = "text/csv"


class UnsupportedMediaType(InvalidArgument):
    """A body that is neither JSON nor CSV (HTTP 415)."""


@dataclass(frozen=True)
class Request:
    data: Any
    params: dict[str, Any] | None = None


def parse(content_type: str, body: bytes) -> Request:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON:
        return _from_json(body)
    if kind == CSV:
        return Request(_from_csv(body))
    raise UnsupportedMediaType(
        f"Content-Type {content_type or '(none)'!r} is not supported; send {JSON} "
        f"(with one of {', '.join(FORMATS)}) or {CSV}"
    )


def _from_json(body: bytes) -> Request:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(
            f"the body must be a JSON object with one of {', '.join(FORMATS)}, "
            f"not a {type(doc).__name__}"
        )
    unknown = sorted(set(doc) - {*FORMATS, "params"})
    given = [k for k in FORMATS if k in doc]
    if unknown or len(given) != 1:
        found = ", ".join(repr(k) for k in unknown or given) or "none of them"
        raise InvalidArgument(
            f"the body must hold exactly one of {', '.join(FORMATS)} (and optionally "
            f"params); it has {found}"
        )
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidArgument("params must be a JSON object of parameter names to values")
    key = given[0]
    value = doc[key]
    if key == "dataframe_split":
        data = _split(value)
    elif key == "dataframe_records":
        data = _records(value)
    else:
        data = _tensors(key, value)
    return Request(data, params)


def _split(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, dict) or "data" not in value:
        raise InvalidArgument(
            'dataframe_split must be an object {"columns": [...], "data": [[...], ...]}'
        )
    extra = sorted(set(value) - {"columns", "data", "index"})
    if extra:
        raise InvalidArgument(f"dataframe_split has unknown keys {extra}; use columns, data, index")
    rows, columns = value["data"], value.get("columns")
    if not isinstance(rows, list) or (columns is not None and not isinstance(columns, list)):
        raise InvalidArgument("dataframe_split: data must be a list of rows, columns a list")
    try:
        return pd.DataFrame(rows, columns=columns, index=value.get("index"))
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"dataframe_split does not make a table: {exc}") from None


def _records(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, dict):  # one record
        value = [value]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise InvalidArgument("dataframe_records must be a list of objects, one per row")
    return pd.DataFrame.from_records(value) if value else pd.DataFrame()


def _tensors(key: str, value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        if key == "inputs":
            raise InvalidArgument("inputs takes arrays or columns; send rows as instances")
        # TF-serving's row format: records with one value per name.
        return _columns_from_rows(value)
    if not isinstance(value, list | dict) or (isinstance(value, list) and not value):
        raise InvalidArgument(f"{key} must be a non-empty list or an object of named inputs")
    return value


def _columns_from_rows(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(rows[0])
    for i, row in enumerate(rows):
        if list(row) != names and set(row) != set(names):
            raise InvalidArgument(f"instances[{i}] has keys {sorted(row)}, not {sorted(names)}")
    return {name: [row[name] for row in rows] for name in names}


def _from_csv(body: bytes) -> Any:
    import pandas as pd

    if not body.strip():
        raise InvalidArgument("the CSV body is empty; send a header row and data rows")
    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidArgument(f"the body is not valid CSV: {' '.join(str(exc).split())}") from None


def predictions(value: Any) -> bytes:
    """`{"predictions": ...}` as MLflow answers: a table as records, arrays as lists."""
    return orjson.dumps(
        {"predictions": _plain(value)},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        default=_fallback,
    )


def _plain(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return [_plain(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf" and value.dtype.itemsize <= 8:
            # orjson writes these natively (NaN and infinities as null: JSON has neither).
            return np.ascontiguousarray(value)
        return _plain(value.tolist())
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _fallback(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(value).decode()
    return str(value)
