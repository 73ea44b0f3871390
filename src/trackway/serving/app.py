"""The scoring server's ASGI app: one loaded model behind MLflow's scoring endpoints.

- `POST /invocations`: a JSON or CSV body (see `payload`), checked against the model's
  signature, answered with `{"predictions": ...}`;
- `GET /ping` and `GET /health`: 200 once the model is loaded (it is loaded before the
  server listens, so always);
- `GET /version`: Trackway's version.

Bad input is a 400 with `{"error_code": "BAD_REQUEST", "message": ...}` naming the problem;
an exception from the model is a 500 with its message; a prediction that takes longer
than `timeout` seconds is a 503, so that a client never waits on a stuck model. Parsing,
validation and prediction run on worker threads (at most `threads` at once), so the event
loop keeps answering probes while the model works.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import orjson

from trackway import __version__
from trackway.errors import InvalidArgument
from trackway.rest import request_body
from trackway.serving import payload

log = logging.getLogger("trackway.serving")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 64 << 20
PROBES = ("/ping", "/health", "/version")
INVOCATIONS = "/invocations"
# Every (method, path) the app answers other than with 404/405; the scoring server's
# auth rules (trackway.serving.auth) must cover each, which tests/auth checks.
ROUTES = (
    *((method, path) for path in PROBES for method in ("GET", "HEAD")),
    ("POST", INVOCATIONS),
)


class ScoringApp:
    def __init__(
        self,
        model: Any,
        *,
        threads: int = 4,
        timeout: float = 60.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        from trackway.models.signature import validate_input

        self._model = model
        self._signature = model.metadata.signature
        self._validate = validate_input
        self._threads = threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._timeout = timeout
        self._max_body = max_body_bytes
        self._lock = threading.Lock()
        self._stuck = 0  # predictions past their deadline whose threads still run

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if path in PROBES:
            if method not in ("GET", "HEAD"):
                await _error(send, 405, "BAD_REQUEST", f"{path} takes GET")
                return
            body = __version__.encode() if path == "/version" else b"OK"
            await _send(send, 200, body, b"text/plain; charset=utf-8")
            return
        if path != INVOCATIONS:
            await _error(send, 404, "ENDPOINT_NOT_FOUND", f"no endpoint {path}; use /invocations")
            return
        if method != "POST":
            await _error(send, 405, "BAD_REQUEST", "/invocations takes POST")
            return
        await self._invocations(scope, receive, send)

    async def _invocations(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        try:
            body = await self._body(receive)
            content_type = _header(scope, b"content-type")
            request = await self._offload(payload.parse, content_type, body)
            data = await self._offload(self._validate, self._signature, request.data)
        except InvalidArgument as exc:
            status = 415 if isinstance(exc, payload.UnsupportedMediaType) else 400
            await _error(send, status, "BAD_REQUEST", str(exc))
            return
        except _TooLarge as exc:
            await _error(send, 413, "BAD_REQUEST", str(exc))
            return
        except Exception as exc:  # e.g. pandas refusing columns of different lengths
            text = " ".join(str(exc).split()) or type(exc).__name__
            await _error(send, 400, "BAD_REQUEST", f"the input could not be read: {text}")
            return
        if self._stuck >= self._threads:
            message = (
                f"{self._stuck} predictions have run past {self._timeout:g} s and not "
                "returned yet; the model seems stuck"
            )
            await _error(send, 503, "TEMPORARILY_UNAVAILABLE", message)
            return
        call = _Call()
        try:
            with anyio.fail_after(self._timeout):
                answer = await self._offload(self._tracked, call, data, request.params)
        except TimeoutError:
            with self._lock:
                if call.started and not call.done:
                    call.abandoned = True
                    self._stuck += 1
            message = f"the model did not answer within {self._timeout:g} s"
            await _error(send, 503, "TEMPORARILY_UNAVAILABLE", message)
            return
        except Exception as exc:
            log.exception("the model failed on a request")
            text = " ".join(str(exc).split()) or type(exc).__name__
            await _error(
                send, 500, "INTERNAL_ERROR", f"the model failed: {type(exc).__name__}: {text}"
            )
            return
        await _send(send, 200, answer, b"application/json")

    def _tracked(self, call: _Call, data: Any, params: dict[str, Any] | None) -> bytes:
        """A prediction on a worker thread. One abandoned at its deadline still holds its
        thread; it is counted as stuck until it returns, so stuck threads stay bounded."""
        with self._lock:
            call.started = True
        try:
            return self._predict(data, params)
        finally:
            with self._lock:
                call.done = True
                if call.abandoned:
                    self._stuck -= 1

    def _predict(self, data: Any, params: dict[str, Any] | None) -> bytes:
        if isinstance(data, list):  # a model without a signature takes arrays as given
            import numpy as np

            data = np.asarray(data)
        result = self._model.predict(data, params) if params else self._model.predict(data)
        return payload.predictions(result)

    async def _offload(self, func: Callable[..., Any], *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        # A prediction past its deadline is abandoned (its thread finishes on its own),
        # so that the client gets an answer.
        return await anyio.to_thread.run_sync(
            partial(func, *args), limiter=self._limiter, abandon_on_cancel=True
        )

    async def _body(self, receive: Receive) -> bytes:
        return await request_body.read(
            receive,
            self._max_body,
            too_large=lambda limit: _TooLarge(f"the request body is over {limit} bytes"),
            gone=InvalidArgument,
        )


class _TooLarge(Exception):
    pass


class _Call:
    """The state of one prediction, shared by the event loop and its worker thread."""

    def __init__(self) -> None:
        self.started = False
        self.done = False
        self.abandoned = False


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


async def _error(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error_code": code, "message": message})
    await _send(send, status, body, b"application/json")


async def _send(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
