"""Artifact bytes stream through the HTTP routes: a 64 MiB upload and download through a
real `trackway server` process leave its memory flat."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.support.procs import free_port, wait_serving

SIZE = 64 << 20
BLOCK = bytes(range(256)) * 1024  # 256 KiB, not all one byte value


def _body(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        chunk = BLOCK[: min(len(BLOCK), size - sent)]
        sent += len(chunk)
        yield chunk


class _PeakRss:
    """Samples a process's resident set size until stopped."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@pytest.mark.slow
def test_64_mib_up_and_down_without_the_server_growing(tmp_path: Path) -> None:
    grpc_port, http_port = free_port(), free_port()
    log = open(tmp_path / "server.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trackway.cli",
            "server",
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'trackway.db'}",
            "--artifacts-destination",
            (tmp_path / "artifacts").as_uri(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_serving(grpc_port)
        url = f"http://127.0.0.1:{http_port}/v1"
        eid = requests.post(f"{url}/experiments", json={"name": "big"}, timeout=30).json()
        run = requests.post(
            f"{url}/runs", json={"experimentId": eid["experiment"]["experimentId"]}, timeout=30
        ).json()
        files = f"{url}/runs/{run['run']['info']['runId']}/artifacts"
        # Warm up every code path, and let gRPC's flow-control windows grow to their
        # size, so that the measure sees only what the file's size costs.
        for _ in range(2):
            assert requests.put(f"{files}/warm.bin", data=_body(16 << 20), timeout=60).ok
            assert len(requests.get(f"{files}/warm.bin", timeout=60).content) == 16 << 20
        time.sleep(0.5)
        before = psutil.Process(proc.pid).memory_info().rss
        sampler = _PeakRss(proc.pid)

        expected = hashlib.sha256()
        for chunk in _body(SIZE):
            expected.update(chunk)
        stored = requests.put(
            f"{files}/big.bin",
            data=_body(SIZE),  # a generator: sent chunked, never whole
            headers={"X-Trackway-Sha256": expected.hexdigest()},
            timeout=300,
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["file"]["size"] == str(SIZE)

        received = hashlib.sha256()
        total = 0
        with requests.get(f"{files}/big.bin", stream=True, timeout=300) as download:
            assert download.status_code == 200
            assert download.headers["content-length"] == str(SIZE)
            for chunk in download.iter_content(1 << 20):
                received.update(chunk)
                total += len(chunk)
        peak = sampler.stop()
        assert total == SIZE and received.hexdigest() == expected.hexdigest()
        # Chunks in flight and gRPC's windows cost a few MiB whatever the size; a body
        # held whole would cost at least its 64 MiB.
        growth = peak - before
        assert growth < SIZE // 2, f"the server grew by {growth >> 20} MiB for a 64 MiB file"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
