"""`trackway models serve`: load a model once, then serve it over HTTP until SIGINT/SIGTERM.

The model is loaded, explicitly and before the port opens, so a probe that gets an
answer knows the model is ready, and a model that cannot be loaded stops the command
with one clear line. Loading unpickles the model's files, which runs code from them:
serve only models you trust. The HTTP stack is the REST gateway's (uvicorn, see
`trackway.rest.server`), with its TLS (`tls_cert`, `tls_key`); `auth="token"` puts the
scoring gate of `trackway.serving.auth` in front of the app.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from trackway.rest.server import HttpServer, TlsFiles
from trackway.serving.app import DEFAULT_MAX_BODY_BYTES, ScoringApp
from trackway.serving.auth import ScoringGate, TokenFile


@dataclass(frozen=True)
class ServeOptions:
    model_uri: str
    host: str = "127.0.0.1"
    port: int = 5001
    tracking_uri: str | None = None
    threads: int = 4
    timeout: float = 60.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    grace: float = 10.0
    # "none", or "token": /invocations needs a bearer token listed in token_file.
    auth: str = "none"
    token_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    def check(self) -> None:
        if self.auth not in ("none", "token"):
            raise ValueError(f"--auth must be none or token, not {self.auth!r}")
        if self.auth == "token" and not self.token_file:
            raise ValueError("--auth token needs --token-file (see `trackway models serve -h`)")
        if self.token_file and self.auth != "token":
            raise ValueError("--token-file needs --auth token")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together: give both, or neither")


# Security flags that the CLI's `models serve` adds (trackway.serving.flags), applied
# to the options its command builds.
_cli_security: ContextVar[dict[str, str] | None] = ContextVar(
    "trackway_serve_security", default=None
)


@contextmanager
def cli_security(settings: dict[str, str]) -> Iterator[None]:
    token = _cli_security.set(settings)
    try:
        yield
    finally:
        _cli_security.reset(token)


def load(options: ServeOptions) -> Any:
    """The model behind `options.model_uri` (a registry or run URI through the tracking
    server, or a local path)."""
    from trackway.client import TrackwayClient
    from trackway.models import load_model
    from trackway.models.locate import local_folder

    if local_folder(options.model_uri) is not None:
        return load_model(options.model_uri)
    with TrackwayClient(options.tracking_uri) as client:
        return load_model(options.model_uri, client=client)


def start(model: Any, options: ServeOptions) -> HttpServer:
    options.check()
    app: Any = ScoringApp(
        model,
        threads=options.threads,
        timeout=options.timeout,
        max_body_bytes=options.max_body_bytes,
    )
    if options.auth == "token":
        app = ScoringGate(app, TokenFile(options.token_file))
    tls = TlsFiles(options.tls_cert, options.tls_key) if options.tls_cert else None
    return HttpServer(app, options.host, options.port, grace=options.grace, tls=tls).start()


def serve(options: ServeOptions, ready: Callable[[HttpServer], None] = lambda s: None) -> int:
    """Loads, serves until SIGINT or SIGTERM, then drains in-flight requests."""
    flags = _cli_security.get() or {}
    options = replace(
        options,
        auth=flags.get("auth", options.auth),
        token_file=flags.get("token_file", options.token_file),
        tls_cert=flags.get("tls_cert", options.tls_cert),
        tls_key=flags.get("tls_key", options.tls_key),
    )
    options.check()  # before the model loads, which may take long
    model = load(options)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = start(model, options)
        ready(server)
        while not stop.wait(1.0):
            pass
        server.stop(options.grace)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
