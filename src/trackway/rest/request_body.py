"""Reading a whole ASGI request body, with a size bound, for every HTTP door: the MLflow
gateway, its auth gate and artifact proxy, the /v1/ transcoder and the scoring server.
Each door raises its own kind of error, so it passes the two it wants."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
DISCONNECTED = "the client disconnected before the body arrived"


async def read(
    receive: Receive,
    max_bytes: int,
    *,
    too_large: Callable[[int], Exception],
    gone: Callable[[str], Exception],
) -> bytes:
    """The body, once all of it arrived; `too_large(max_bytes)` is raised as soon as it
    passes the bound, and `gone(DISCONNECTED)` if the client leaves first."""
    parts: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise gone(DISCONNECTED)
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > max_bytes:
            raise too_large(max_bytes)
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)
