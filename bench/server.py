"""`trackway server` as a child process on a fresh temporary directory, and its memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

MIB = 1024 * 1024

# A channel that failed to connect waits ~1 s before its next attempt by default, which
# would blur start-up times; retry quickly instead.
FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 10),
    ("grpc.min_reconnect_backoff_ms", 10),
    ("grpc.max_reconnect_backoff_ms", 50),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def trackway_command() -> list[str]:
    """The installed `trackway` script of this interpreter's environment."""
    script = Path(sys.executable).parent / "trackway"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "trackway.cli"]


def wait_serving(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Blocks until the health check says SERVING; raises if the server exits first."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=FAST_RECONNECT) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with code {proc.returncode} before SERVING")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.005)
    raise TimeoutError(f"server on port {port} did not become SERVING in {timeout} s")


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


class RssSampler:
    """Samples a process tree's RSS in a thread and keeps the peak: `with RssSampler(pid)`."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))

    @property
    def peak_mb(self) -> float:
        return round(self.peak / MIB, 1)


class BenchServer:
    """A server on its own temporary directory; `start()` returns the seconds to SERVING.

    The same directory (and so database) is reused by a later `start()` after `stop()`,
    which is how the existing-database start-up is timed.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        threads: int | None = None,
        artifacts_destination: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="trackway-bench-", dir=root))
        self.db_path = self.root / "trackway.db"
        self.threads = threads
        self.artifacts_destination = artifacts_destination or (self.root / "artifacts").as_uri()
        self.env = env or {}
        self.port = 0
        self.http_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = open(self.root / "server.log", "ab")  # noqa: SIM115 - closed in cleanup()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not running"
        return self.proc.pid

    def start(self) -> float:
        self.port = free_port()
        self.http_port = free_port()
        args = [
            *trackway_command(),
            "server",
            "--grpc-port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--backend-store-uri",
            f"sqlite:///{self.db_path}",
            "--artifacts-destination",
            self.artifacts_destination,
            "--grace-seconds",
            "2",
            "--log-level",
            "WARNING",
        ]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        try:
            wait_serving(self.port, self.proc)
        except BaseException:
            self.stop()
            sys.stderr.write(self.log_tail())
            raise
        return time.perf_counter() - started

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                sys.stderr.write("[bench] server ignored SIGTERM for 15 s; killing it\n")
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def log_tail(self, size: int = 4000) -> str:
        self._log.flush()
        text = (self.root / "server.log").read_bytes()[-size:]
        return text.decode(errors="replace")

    def cleanup(self) -> None:
        self.stop()
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> BenchServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
