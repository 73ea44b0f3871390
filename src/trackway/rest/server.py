"""The REST gateway's HTTP server: uvicorn on its own thread and event loop, in the
same process as the gRPC server.

The listening socket is bound here, before uvicorn starts, so port 0 resolves to a
known port at once and a bind failure is raised to the caller. With `--workers`, the
socket takes SO_REUSEPORT so that every worker process serves the same HTTP port.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _http() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen for HTTP on {host}:{port}: {exc}") from exc
    sock.set_inheritable(True)
    return sock


class HttpServer:
    """A started uvicorn server; `stop()` drains it for at most `grace` seconds."""

    def __init__(
        self, app: Any, host: str, port: int, *, reuse_port: bool = False, grace: float = 20.0
    ) -> None:
        self._sock = bind(host, port, reuse_port=reuse_port)
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            loop=_loop(),
            http=_http(),
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(int(grace), 1),
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="trackway-http", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException:
            log.exception("the HTTP server stopped with an error")

    def start(self) -> HttpServer:
        self._thread.start()
        stopped = threading.Event()
        deadline = START_TIMEOUT_SECONDS
        while not self._server.started and self._thread.is_alive() and deadline > 0:
            stopped.wait(0.01)
            deadline -= 0.01
        if not self._server.started:
            self.stop(0)
            raise OSError("the HTTP server did not start")
        return self

    def begin_stop(self) -> None:
        """Stops accepting connections; in-flight requests go on until `stop()`."""
        self._server.should_exit = True

    def stop(self, grace: float | None = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=None if grace is None else grace + 5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._sock.close()
