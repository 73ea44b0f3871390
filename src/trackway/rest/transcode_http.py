"""What the `/v1/` handlers share: the request they get and how they answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from trackway.rest.transcode_errors import HttpError

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Offload = Callable[..., Awaitable[Any]]


@dataclass
class HttpRequest:
    """A request, the variables its route matched, and the metadata of its RPC call
    (`x-request-id`, and `authorization` when the client sent one)."""

    method: str
    path: str
    vars: dict[str, str]
    query: list[tuple[str, str]]
    headers: dict[str, str]
    metadata: list[tuple[str, str]]
    receive: Receive
    send: Send

    @property
    def request_id(self) -> str:
        return dict(self.metadata)["x-request-id"]


Handler = Callable[[HttpRequest], Awaitable[None]]


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"application/json",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: HttpError, request_id: str) -> None:
    headers = [(b"x-request-id", request_id.encode()), *error.headers]
    await send_bytes(send, error.http_status, error.body(), headers)
