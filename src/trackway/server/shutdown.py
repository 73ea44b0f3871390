"""Waiting for the signal that stops a server process (the central server or a relay)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType


def wait_for_stop(log: logging.Logger, doing: str, grace_seconds: float) -> None:
    """Blocks until SIGTERM or SIGINT arrives, then logs that the process is `doing` its
    shutdown work (for example "draining") for at most `grace_seconds`."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s; %s for up to %.0f s", signal.Signals(signum).name, doing, grace_seconds
        )
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
