"""Progress goes to stderr, so that stdout holds nothing but result lines."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def progress(message: str) -> None:
    sys.stderr.write(f"[bench {time.monotonic() - _START:6.1f}s] {message}\n")
    sys.stderr.flush()
