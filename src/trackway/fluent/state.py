"""The fluent API's state: tracking URI, client, active experiment and active runs.

Active runs are kept per thread (each thread has its own stack of nested runs) and per
process: after a fork the child starts with no active run and, on first use, a client
and background logger of its own; the parent's are never touched from the child.
"""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from trackway.client import TrackwayClient
from trackway.client import uri as uris

if TYPE_CHECKING:
    from trackway.fluent.runs import ActiveRun

RUN_ID_ENV = "TRACKWAY_RUN_ID"
EXPERIMENT_ID_ENV = "TRACKWAY_EXPERIMENT_ID"
EXPERIMENT_NAME_ENV = "TRACKWAY_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "Default"


class _Process:
    """What one process shares between its threads."""

    def __init__(self, tracking_uri: str | None = None, experiment_id: str | None = None):
        self.lock = threading.RLock()
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.client: TrackwayClient | None = None
        self.runs: list[ActiveRun] = []  # every thread's active runs, in start order
        self.last_run_id: str | None = None
        self.local = threading.local()
        self.uncaught: type[BaseException] | None = None
        self.exit_code: str | int | None = None


_proc = _Process()
# Clients of a parent process, kept (never used, never closed) in a forked child: closing
# a gRPC channel that the child did not create is not safe.
_inherited: list[Any] = []


def process() -> _Process:
    return _proc


def stack() -> list[ActiveRun]:
    """This thread's stack of active runs (innermost last)."""
    local = _proc.local
    try:
        found: list[ActiveRun] = local.stack
    except AttributeError:
        found = local.stack = []
    return found


def tracking_uri() -> str:
    return uris.resolve(_proc.tracking_uri)


def set_tracking_uri(uri: str) -> None:
    uris.parse(uris.resolve(uri))  # refuse a bad URI now, not at the first call
    with _proc.lock:
        _proc.tracking_uri = uri
        if _proc.client is not None and _proc.client.tracking_uri != uris.resolve(uri):
            # Runs that are active keep their own client; new calls use the new server.
            _proc.client = None


def client() -> TrackwayClient:
    """The process's client for the current tracking URI, made on first use."""
    found = _proc.client
    if found is None:
        with _proc.lock:
            if _proc.client is None:
                _proc.client = TrackwayClient(tracking_uri())
                _install_hooks()
            found = _proc.client
    return found


def reset() -> None:
    """Forgets this process's fluent state (used by tests): closes its client, and
    starts again with no tracking URI, experiment or active run."""
    global _proc
    old, _proc = _proc, _Process()
    clients = {id(c): c for c in [old.client, *(r.client for r in old.runs)] if c is not None}
    for found in clients.values():
        found.close(timeout=5.0)


def _after_fork_in_child() -> None:
    global _proc
    parent = _proc
    if parent.client is not None or parent.runs:
        _inherited.append((parent.client, parent.runs))
    _proc = _Process(parent.tracking_uri, parent.experiment_id)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# How the process ends decides the status of runs still active at exit.

_hooks_installed = False


def _install_hooks() -> None:
    """Remembers how the process ends, for the runs still active at exit: an uncaught
    exception (through sys.excepthook) or the code given to sys.exit()."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_hook = sys.excepthook
    previous_exit = sys.exit

    def record(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _proc.uncaught = kind
        previous_hook(kind, exc, tb)

    def exit_with(status: str | int | None = None) -> NoReturn:
        _proc.exit_code = status
        previous_exit(status)

    sys.excepthook = record
    setattr(sys, "exit", exit_with)  # noqa: B010


def exit_status() -> str:
    """FINISHED, or what an uncaught exception or sys.exit(code) makes of the runs left
    active: KILLED for KeyboardInterrupt, else FAILED."""
    kind = _proc.uncaught
    if kind is not None:
        return "KILLED" if issubclass(kind, KeyboardInterrupt) else "FAILED"
    if _proc.exit_code not in (None, 0):
        return "FAILED"
    return "FINISHED"
