"""Servers in child processes, for tests that kill or signal them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(port: int, timeout: float = 30.0) -> float:
    """Blocks until the server's health check says SERVING; returns the seconds taken."""
    started = time.monotonic()
    deadline = started + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic() - started
            except grpc.RpcError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"server on port {port} did not become SERVING in {timeout} s")


class ServerProcess:
    """`trackway server` as a child process."""

    def __init__(
        self,
        db_url: str,
        artifact_root: str,
        log_path: Path,
        port: int = 0,
        http_port: int = 0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.http_port = http_port or free_port()
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trackway.cli",
                "server",
                "--grpc-port",
                str(self.port),
                "--http-port",
                str(self.http_port),
                "--backend-store-uri",
                db_url,
                "--artifacts-destination",
                artifact_root,
                "--grace-seconds",
                "5",
                *extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.startup_seconds = wait_serving(self.port)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
