"""Fixtures of the project tests: a live server, `trackway run` as a real subprocess, and
project folders written by the tests themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackway.client import Run, TrackwayClient
from trackway.config import ServerConfig
from trackway.fluent import state
from trackway.server.app import RunningServer, create_server

TRACKWAY_ENV = (
    "TRACKWAY_TRACKING_URI",
    "TRACKWAY_RUN_ID",
    "TRACKWAY_EXPERIMENT_ID",
    "TRACKWAY_EXPERIMENT_NAME",
)


@dataclass
class Launched:
    code: int
    out: str
    err: str


Launcher = Callable[..., Launched]


@pytest.fixture
def project_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            backend_store_uri=f"sqlite:///{tmp_path / 'projects.db'}",
            artifacts_destination=(tmp_path / "artifacts").as_uri(),
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture
def uri(project_server: RunningServer) -> str:
    return f"grpc://127.0.0.1:{project_server.port}"


@pytest.fixture
def api(uri: str) -> Iterator[TrackwayClient]:
    with TrackwayClient(uri) as client:
        yield client


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No run or experiment inherited from outside; virtualenvs cached per test."""
    for name in TRACKWAY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKWAY_ENV_ROOT", str(tmp_path / "envs"))
    # Relative paths given to the API are the caller's: keep them inside the test's folder.
    monkeypatch.chdir(tmp_path)
    state.reset()
    yield
    state.reset()


def child_env(uri: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TRACKWAY_ENV}
    env.update({"TRACKWAY_TRACKING_URI": uri, "PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.fixture
def trackway_run(uri: str, clean_env: None, tmp_path: Path) -> Launcher:
    """`trackway run ARGS` in a child process, against the live server."""

    def launch(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Launched:
        done = subprocess.run(
            [sys.executable, "-m", "trackway.cli", "run", *args],
            capture_output=True,
            text=True,
            env=env or child_env(uri),
            cwd=tmp_path,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Launched(done.returncode, done.stdout, done.stderr)

    return launch


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Writes `files` (relative path → text, dedented) below `root`; returns `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def all_runs(api: TrackwayClient) -> list[Run]:
    return list(api.search_runs([], "", "all", 1000))


def only_run(api: TrackwayClient) -> Run:
    runs = all_runs(api)
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


# A child script that attaches to the project run and logs into it.
LOGGING_SCRIPT = """
import sys
import trackway

with trackway.start_run() as run:
    trackway.log_metric("accuracy", 0.75)
    trackway.log_param("seen_argv", " ".join(sys.argv[1:]))
    print("attached to", run.run_id)
"""
