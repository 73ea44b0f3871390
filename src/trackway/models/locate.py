"""From a model URI to a local folder.

- a local path, or `file://` URI: used in place;
- `runs:/<run_id>/<path>`, `models:/<name>/<version>`, `models:/<name>@<alias>`,
  `models:/<name>/<stage>` and `models:/<name>/latest`: the server resolves them
  (ResolveModelUri, which also checks that the location lies below its artifact root),
  and the files come down through the ArtifactService into `dst_path`, else a fresh
  folder below a per-process temporary folder that is removed at exit.

Nothing here deserializes a model.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import grpc

from trackway.artifacts import client as transfer
from trackway.client import Experiment, TrackwayClient
from trackway.client.errors import from_rpc_error
from trackway.errors import FailedPrecondition, InvalidArgument
from trackway.registry import uris
from trackway.registry.uris import RunUri


@dataclass(frozen=True)
class Location:
    """Where a model's files are on the server: a path below the artifact root of a run
    (`run_id`) or, for a version registered from elsewhere, of an experiment."""

    path: str
    run_id: str = ""
    experiment_id: str = ""


def local_folder(uri: str) -> Path | None:
    """The folder of a local path or `file://` URI; None for a registry URI."""
    if uris.is_registry_uri(uri):
        return None
    parts = urlsplit(uri)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"{uri!r}: a file:// URI must name a local path")
        return Path(url2pathname(unquote(parts.path)))
    if parts.scheme and len(parts.scheme) > 1:  # one letter: a Windows drive
        raise InvalidArgument(
            f"model URI {uri!r}: use a local path, file://, runs:/<run_id>/<path>, "
            "models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/<stage>"
        )
    return Path(uri)


def locate(client: TrackwayClient, uri: str) -> Location:
    """Resolves a `runs:/` or `models:/` URI through the server to the run (else the
    experiment) whose artifacts hold the model, and the model's path below them."""
    parsed = uris.parse(uri, "model_uri")  # a bad URI fails here, before any call
    resolved = client.resolve_model_uri(uri)  # NotFound for a missing run or version
    if isinstance(parsed, RunUri):
        return Location(parsed.path, run_id=parsed.run_id)
    location = resolved.artifact_uri.rstrip("/")
    if resolved.run_id:
        root = client.get_run(resolved.run_id).info.artifact_uri.rstrip("/")
        relative = _below(location, root)
        if relative is not None:
            return Location(relative, run_id=resolved.run_id)
    for experiment in _experiments(client):
        relative = _below(location, experiment.artifact_location.rstrip("/"))
        if relative is not None:
            return Location(relative, experiment_id=experiment.experiment_id)
    raise FailedPrecondition(
        f"{uri}: its files at {location} are below no run or experiment, so the artifact "
        "service cannot serve them"
    )


def _below(location: str, root: str) -> str | None:
    if location == root:
        return ""
    return location[len(root) + 1 :] if root and location.startswith(root + "/") else None


def _experiments(client: TrackwayClient) -> list[Experiment]:
    found: list[Experiment] = []
    token = ""
    while True:
        page = client.search_experiments(view_type="all", page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def download(
    client: TrackwayClient, where: Location, dst_path: str | os.PathLike[str] | None, file: str = ""
) -> Path:
    """Downloads the model folder (or one `file` of it) into `dst_path` or a new
    temporary folder; returns the local model folder."""
    target = Path(dst_path) if dst_path is not None else _fresh_folder()
    path = f"{where.path}/{file}" if where.path and file else (where.path or file)
    local = target / file if file else target
    if where.run_id:
        client.download_artifacts(where.run_id, path, local)
        return target
    scope = transfer.scope(experiment_id=where.experiment_id)
    try:
        transfer.download(client.channel, scope, path, local)
    except grpc.RpcError as exc:
        raise from_rpc_error(exc, client.tracking_uri) from None
    return target


_lock = threading.Lock()
_root: list[Path] = []


def _fresh_folder() -> Path:
    with _lock:
        if not _root:
            made = Path(tempfile.mkdtemp(prefix="trackway-models-"))
            atexit.register(shutil.rmtree, made, ignore_errors=True)
            _root.append(made)
    return Path(tempfile.mkdtemp(dir=_root[0]))
