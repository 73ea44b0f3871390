"""Dataset descriptions for log_input: a Dataset as given, or one built from a DataFrame."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from trackway.client import Dataset


def as_dataset(value: object) -> Dataset:
    if isinstance(value, Dataset):
        return value
    if type(value).__name__ == "DataFrame" and hasattr(value, "dtypes"):
        return dataset_from_pandas(value)
    raise TypeError(
        f"log_input takes a trackway.Dataset or a pandas DataFrame, not {type(value).__name__}"
    )


def dataset_from_pandas(
    df: Any, source: str = "", name: str | None = None, source_type: str = "code"
) -> Dataset:
    """Describes a DataFrame: a content digest (8 hex characters of an MD5 over pandas'
    row hashes, as MLflow computes it), its columns and types, and its size."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(df, index=True).values.tobytes()
    digest = hashlib.md5(hashed, usedforsecurity=False).hexdigest()[:8]
    schema = {"columns": [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()]}
    profile = {"num_rows": len(df), "num_elements": int(df.size)}
    return Dataset(
        name=name or "dataset",
        digest=digest,
        source=source,
        source_type=source_type if source else "",
        schema=json.dumps(schema),
        profile=json.dumps(profile),
    )
