"""Request ids: one per RPC or HTTP request, in a context variable while it runs.

A client that sends `x-request-id` (gRPC metadata or HTTP header) has its id kept, so
that its own logs and the server's line up; otherwise the server makes one. Every log
line written while the request runs carries the id (see logs.py), and the answer
returns it: in the trailing metadata of an RPC, in a header of an HTTP response.
"""

from __future__ import annotations

import os
from contextvars import ContextVar, Token

HEADER = "x-request-id"
# Ids travel as gRPC metadata, which must be printable ASCII; a longer or stranger value
# is replaced rather than trusted into every log line. The transcoder applies the same rule.
MAX_LENGTH = 128

_current: ContextVar[str] = ContextVar("trackway_request_id", default="")


def accept(sent: str | None) -> str:
    """The client's id when it is usable, else a new one."""
    if sent and len(sent) <= MAX_LENGTH and sent.isascii() and sent.isprintable():
        return sent
    return os.urandom(16).hex()  # as unique as a uuid4, at a third of its cost


def current() -> str:
    """The id of the request this code runs for, or "" outside of one."""
    return _current.get()


def bind(request_id: str) -> Token[str]:
    """Makes `request_id` current; returns the token that `unbind` takes."""
    return _current.set(request_id)


def unbind(token: Token[str]) -> None:
    _current.reset(token)
