"""Artifact calls of the fluent API. Uploads go out at once (resumable for large files)."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackway.client.artifacts import FileInfo
from trackway.fluent import state
from trackway.fluent.images import save_image
from trackway.fluent.log import current_run


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Uploads a file into the folder `artifact_path` of the active run (default: root)."""
    run = current_run()
    run.client.log_artifact(run.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Uploads a folder's files below `artifact_path` of the active run."""
    run = current_run()
    run.client.log_artifacts(run.run_id, local_dir, artifact_path)


@contextmanager
def _staged(artifact_file: str) -> Iterator[Path]:
    """A temporary file named like `artifact_file`, uploaded to it when the block ends."""
    name = Path(artifact_file).name
    if not name:
        raise ValueError(f"artifact_file {artifact_file!r} must name a file")
    with tempfile.TemporaryDirectory(prefix="trackway-") as tmp:
        path = Path(tmp) / name
        yield path
        run = current_run()
        run.client.upload_artifact(run.run_id, path, artifact_file.strip("/"))


def log_text(text: str, artifact_file: str) -> None:
    """Saves text as a file (UTF-8) at `artifact_file` below the active run's root."""
    with _staged(artifact_file) as path:
        path.write_text(text, encoding="utf-8")


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> None:
    """Saves a dict as JSON, or as YAML when `artifact_file` ends in .yaml or .yml."""
    with _staged(artifact_file) as path:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(dict(dictionary), sort_keys=False), encoding="utf-8")
        else:
            path.write_text(json.dumps(dictionary, indent=2, default=str), encoding="utf-8")


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None
) -> None:
    """Saves a matplotlib figure (anything with `savefig`) or a plotly figure
    (`write_html` for .html, else `write_image`) at `artifact_file`."""
    with _staged(artifact_file) as path:
        kwargs = dict(save_kwargs or {})
        if hasattr(figure, "savefig"):
            figure.savefig(path, **kwargs)
        elif path.suffix.lower() == ".html" and hasattr(figure, "write_html"):
            figure.write_html(path, **kwargs)
        elif hasattr(figure, "write_image"):
            figure.write_image(path, **kwargs)
        else:
            raise TypeError(
                f"log_figure takes a matplotlib or plotly figure, not {type(figure).__name__}"
            )


def log_image(
    image: Any,
    artifact_file: str | None = None,
    *,
    key: str | None = None,
    step: int | None = None,
) -> str:
    """Saves a numpy array or a PIL image. With `artifact_file`, there; with `key`, as
    `images/<key>/step_<step>_<time>_<id>.png`, one file per step. Returns the path."""
    if (artifact_file is None) == (key is None):
        raise ValueError("give exactly one of artifact_file and key")
    if artifact_file is None:
        stamp = time.time_ns() // 1_000_000
        artifact_file = f"images/{key}/step_{step or 0}_{stamp}_{uuid.uuid4().hex[:8]}.png"
    with _staged(artifact_file) as path:
        save_image(image, path)
    return artifact_file


def list_artifacts(path: str = "", run_id: str | None = None) -> list[FileInfo]:
    return state.client().list_artifacts(run_id or current_run().run_id, path)


def download_artifacts(
    artifact_path: str, dst_path: str | os.PathLike[str], run_id: str | None = None
) -> Path:
    """Downloads a file or a folder of a run (default: the active one)."""
    return state.client().download_artifacts(
        run_id or current_run().run_id, artifact_path, dst_path
    )


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The artifact URI of the active run, or of a path below it."""
    root = current_run().info.artifact_uri.rstrip("/")
    return f"{root}/{artifact_path.lstrip('/')}" if artifact_path else root
