"""The HTTP server's life: its port (flag, env, 0, off), a taken port, and SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.procs import free_port, wait_serving
from trackway.config import ServerConfig
from trackway.server.app import create_server


def _config(tmp_path: Path, http_port: int) -> ServerConfig:
    return ServerConfig(
        grpc_port=0,
        http_port=http_port,
        backend_store_uri=f"sqlite:///{tmp_path / 't.db'}",
        artifacts_destination=(tmp_path / "artifacts").as_uri(),
    )


def test_off_and_port_zero(tmp_path: Path) -> None:
    off = create_server(_config(tmp_path / "off", -1))
    try:
        assert off.http is None and off.http_port == -1
    finally:
        off.stop(grace=0)
    on = create_server(_config(tmp_path / "on", 0))
    try:
        assert on.http_port > 0
        url = f"http://127.0.0.1:{on.http_port}/api/2.0/mlflow/experiments/search"
        assert requests.get(url, timeout=10).status_code == 200
        health = requests.get(f"http://127.0.0.1:{on.http_port}/health", timeout=10)
        assert (health.status_code, health.text) == (200, "OK")
        version = requests.get(f"http://127.0.0.1:{on.http_port}/version", timeout=10)
        assert version.status_code == 200 and version.text
    finally:
        on.stop(grace=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_taken_port_fails_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError, match="cannot listen for HTTP"):
            create_server(_config(tmp_path, taken.getsockname()[1]))


@pytest.mark.slow
def test_env_port_and_sigterm_stop_both_servers(tmp_path: Path) -> None:
    grpc_port, http_port = free_port(), free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trackway.cli",
            "server",
            "--grpc-port",
            str(grpc_port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 't.db'}",
            "--artifacts-destination",
            (tmp_path / "artifacts").as_uri(),
            "--grace-seconds",
            "5",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TRACKWAY_HTTP_PORT": str(http_port), "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_serving(grpc_port)
        url = f"http://127.0.0.1:{http_port}/api/2.0/mlflow/experiments/create"
        assert requests.post(url, json={"name": "sig"}, timeout=10).status_code == 200
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert time.monotonic() - started < 15
        with pytest.raises(requests.ConnectionError):
            requests.post(url, json={"name": "after"}, timeout=2)
        assert f"MLflow REST on 127.0.0.1:{http_port}" in (tmp_path / "server.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
