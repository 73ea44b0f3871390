"""load_model, and reading a model's metadata without loading it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackway.errors import InvalidArgument
from trackway.models import locate
from trackway.models import pytorch as pt
from trackway.models import sklearn as sk
from trackway.models.mlmodel import MLMODEL_FILE, ModelMetadata
from trackway.models.pyfunc import PyFuncModel, load_pyfunc

if TYPE_CHECKING:
    from trackway.client import TrackwayClient


def _client(client: TrackwayClient | None) -> TrackwayClient:
    if client is not None:
        return client
    from trackway.fluent import state

    return state.client()


def fetch(
    model_uri: str,
    dst_path: str | os.PathLike[str] | None = None,
    client: TrackwayClient | None = None,
) -> Path:
    """The local folder of a model: a local path as is, a `runs:/` or `models:/` URI
    resolved by the server and downloaded. Deserializes nothing."""
    if not isinstance(model_uri, str) or not model_uri:
        raise InvalidArgument(f"model_uri must be a non-empty string, not {model_uri!r}")
    folder = locate.local_folder(model_uri)
    if folder is not None:
        if not (folder / MLMODEL_FILE).is_file():
            raise InvalidArgument(f"{model_uri}: no {MLMODEL_FILE} file there; not a model")
        return folder
    found = _client(client)
    return locate.download(found, locate.locate(found, model_uri), dst_path)


def get_model_info(model_uri: str, client: TrackwayClient | None = None) -> ModelMetadata:
    """The parsed MLmodel of any model URI, fetching only that file: safe on untrusted
    models, since nothing is deserialized."""
    folder = locate.local_folder(model_uri)
    if folder is not None:
        return ModelMetadata.load(folder)
    found = _client(client)
    local = locate.download(found, locate.locate(found, model_uri), None, MLMODEL_FILE)
    return ModelMetadata.load(local)


def load_model(
    model_uri: str,
    *,
    flavor: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    client: TrackwayClient | None = None,
) -> Any:
    """Loads a model. This deserializes it (pickle), which runs code from the model's
    files: load only models from sources you trust.

    `model_uri` is a local path, `file://...`, `runs:/<run_id>/<path>`,
    `models:/<name>/<version>`, `models:/<name>@<alias>`, `models:/<name>/<stage>` or
    `models:/<name>/latest`. Registry URIs are resolved by the tracking server (see
    `trackway.set_tracking_uri`, or pass `client`) and downloaded into `dst_path`, else
    a temporary folder removed at exit.

    Returns a `PyFuncModel` (`predict(data)`, `.metadata`), or with `flavor="sklearn"`
    the estimator itself, with `flavor="pytorch"` the torch module (eval mode, CPU).
    Models saved by MLflow (scikit-learn, PyTorch and custom python models) load too.
    """
    folder = fetch(model_uri, dst_path, client)
    meta = ModelMetadata.load(folder)
    if flavor is None or flavor in ("python_function", "pyfunc"):
        return load_pyfunc(folder, meta)
    if flavor == sk.FLAVOR:
        return sk.load_native(folder, meta)
    if flavor == pt.FLAVOR:
        return pt.load_native(folder, meta)
    raise InvalidArgument(
        f"flavor {flavor!r}: this loader knows python_function and sklearn (and pytorch, "
        f"where torch is installed); the model has {', '.join(meta.flavors)}"
    )


__all__ = ["PyFuncModel", "fetch", "get_model_info", "load_model"]
