"""`trackway models serve`: load a model once, then serve it over HTTP until SIGINT/SIGTERM.

The model is loaded, explicitly and before the port opens, so a probe that gets an
answer knows the model is ready, and a model that cannot be loaded stops the command
with one clear line. Loading unpickles the model's files, which runs code from them:
serve only models you trust. The HTTP stack is the REST gateway's (uvicorn, see
`trackway.rest.server`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from trackway.rest.server import HttpServer
from trackway.serving.app import DEFAULT_MAX_BODY_BYTES, ScoringApp


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
    app = ScoringApp(
        model,
        threads=options.threads,
        timeout=options.timeout,
        max_body_bytes=options.max_body_bytes,
    )
    return HttpServer(app, options.host, options.port, grace=options.grace).start()


def serve(options: ServeOptions, ready: Callable[[HttpServer], None] = lambda s: None) -> int:
    """Loads, serves until SIGINT or SIGTERM, then drains in-flight requests."""
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
