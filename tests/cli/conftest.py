"""Fixtures of the CLI tests: a server, and `trackway.cli.main` with captured output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trackway import cli
from trackway.client import TrackwayClient
from trackway.config import ServerConfig
from trackway.server.app import RunningServer, create_server


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            backend_store_uri=f"sqlite:///{tmp_path / 'cli.db'}",
            artifacts_destination=(tmp_path / "artifacts").as_uri(),
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture
def uri(cli_server: RunningServer) -> str:
    return f"grpc://127.0.0.1:{cli_server.port}"


@pytest.fixture
def api(uri: str) -> Iterator[TrackwayClient]:
    with TrackwayClient(uri) as client:
        yield client


@pytest.fixture
def run_cli(uri: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Runs `trackway <args> --tracking-uri <server>`; usage errors come back as code 2."""

    def invoke(*args: str, with_uri: bool = True) -> Result:
        argv = [*args, "--tracking-uri", uri] if with_uri else list(args)
        capsys.readouterr()
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
