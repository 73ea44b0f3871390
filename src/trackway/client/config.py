"""Settings of the background logger, each with a TRACKWAY_LOGGER_* variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class LoggerConfig:
    """How the background logger batches, buffers and gives up.

    - `batch_points`: the largest batch (at most 100,000); a batch goes out once the
      buffer holds this many points, or `linger_seconds` after the last one went out.
    - `buffer_points`: the buffer's bound. When it is full, log calls block until the
      logger has sent enough to make room: nothing is ever dropped silently.
    - `window_points`: points sent but not yet acknowledged, at most.
    - `exit_timeout`: how long the interpreter's exit waits for the last points; what is
      not acknowledged by then is reported on stderr.
    - `open_timeout`: how long to wait for a stream's `opened` answer.
    - `max_backoff`: the longest pause between reconnection attempts.
    - `worker`: the label of this distributed worker (its rank or host) that every metric
      point of the process carries; empty for none. From TRACKWAY_WORKER, else RANK (as
      set by torchrun).
    """

    batch_points: int = 10_000
    linger_seconds: float = 0.1
    buffer_points: int = 1_000_000
    window_points: int = 200_000
    exit_timeout: float = 30.0
    open_timeout: float = 30.0
    max_backoff: float = 2.0
    worker: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.batch_points <= 100_000:
            raise ValueError("batch_points must be between 1 and 100,000")
        if self.buffer_points < 1 or self.window_points < 1:
            raise ValueError("buffer_points and window_points must be positive")

    @classmethod
    def from_env(cls, **overrides: Any) -> LoggerConfig:
        """Defaults, then TRACKWAY_LOGGER_<FIELD> variables, then `overrides`."""
        found: dict[str, Any] = {"worker": default_worker()}
        for f in fields(cls):
            if f.name == "worker":
                continue
            raw = os.environ.get(f"TRACKWAY_LOGGER_{f.name.upper()}")
            if raw:
                found[f.name] = int(raw) if f.type == "int" else float(raw)
        return replace(cls(), **{**found, **overrides})


def default_worker() -> str:
    """The worker label of this process: TRACKWAY_WORKER, else torchrun's RANK, else none."""
    return os.environ.get("TRACKWAY_WORKER") or os.environ.get("RANK") or ""
