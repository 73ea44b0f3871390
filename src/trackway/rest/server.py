"""The REST gateway's HTTP server: uvicorn on its own thread and event loop, in the
same process as the gRPC server.

The listening socket is bound here, before uvicorn starts, so port 0 resolves to a
known port at once and a bind failure is raised to the caller. With `--workers`, the
socket takes SO_REUSEPORT so that every worker process serves the same HTTP port.

With `tls`, the port speaks HTTPS; with a client CA it also requires client
certificates, and each request's scope carries the verified certificate's subject CN
in `scope["extensions"]["tls"]["trackway_client_cn"]` (the authentication gate reads
it; a client cannot set scope extensions).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the server's certificate chain and key, and the CA that client
    certificates must chain to (empty: no client certificates)."""

    cert: str
    key: str
    client_ca: str = ""


def _protocol_with_client_cn(name: str) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class, wrapping each connection's app so that its
    requests carry the client certificate's CN."""
    if name == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class WithClientCn(Base):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.app = _TaggedApp(self.app, client_cn(transport.get_extra_info("peercert")))

    return WithClientCn


def client_cn(peercert: Any) -> str:
    """The subject CN of a certificate as `ssl` reports it, or ""."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


class _TaggedApp:
    def __init__(self, app: Any, cn: str) -> None:
        self._app = app
        self._tls = {"trackway_client_cn": cn}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            extensions = {**(scope.get("extensions") or {}), "tls": self._tls}
            scope = {**scope, "extensions": extensions}
        await self._app(scope, receive, send)


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
        self,
        app: Any,
        host: str,
        port: int,
        *,
        reuse_port: bool = False,
        grace: float = 20.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self._sock = bind(host, port, reuse_port=reuse_port)
        self.port: int = self._sock.getsockname()[1]
        http: Any = _http()
        secure: dict[str, Any] = {}
        if tls is not None:
            secure = {"ssl_certfile": tls.cert, "ssl_keyfile": tls.key}
            if tls.client_ca:
                secure.update(ssl_ca_certs=tls.client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
                http = _protocol_with_client_cn(http)
        config = uvicorn.Config(
            app,
            loop=_loop(),
            http=http,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(int(grace), 1),
            server_header=False,
            **secure,
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
