"""Metrics across `--workers` processes: prometheus_client's multiprocess mode.

The kernel hands each scrape of /metrics to any one worker, so every worker writes its
values to files in a shared folder and a scrape sums them all. prometheus_client
chooses its mode when it is first imported, from PROMETHEUS_MULTIPROC_DIR: the parent
sets the variable before it spawns the workers, which import the library afresh.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "PROMETHEUS_MULTIPROC_DIR"


def active() -> bool:
    return bool(os.environ.get(ENV))


@contextmanager
def shared_folder(workers: int) -> Iterator[None]:
    """Gives the workers about to start a fresh shared folder, removed when they have
    stopped. One process needs none; a folder the operator set is used as it is."""
    if workers <= 1 or active():
        yield
        return
    path = tempfile.mkdtemp(prefix="trackway-metrics-")
    os.environ[ENV] = path
    try:
        yield
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(path, ignore_errors=True)
