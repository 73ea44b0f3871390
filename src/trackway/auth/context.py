"""The caller of the request being served, for the code below the doors.

The gRPC interceptor and the HTTP gate bind it for the duration of a call. Worker
threads see it too: gRPC runs a handler on the thread that intercepted it, and the
HTTP gateway's `anyio.to_thread.run_sync` copies the context into its worker. Code that
starts threads of its own (LogStream's reader) must capture the caller explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from trackway.auth.entities import Principal

_caller: ContextVar[Principal | None] = ContextVar("trackway_caller", default=None)


def current() -> Principal | None:
    """The authenticated caller, or None (auth off, or a public call)."""
    return _caller.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = _caller.set(principal)
    try:
        yield
    finally:
        _caller.reset(token)
