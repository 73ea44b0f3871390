"""Heartbeats of runs with a lease: one daemon thread per client renews their leases.

A run created with a lease (CreateRun's `lease_seconds`) is marked FAILED by the server
once its lease runs out, which is how the run of a process killed by SIGKILL, or lost
with its node, stops being RUNNING. This thread renews the lease of each run it is
given every third of the lease, so two heartbeats may go missing (a slow server, a
short outage) before a run is at risk. Writes to a run renew its lease on the server
as well; heartbeats are what keep a quiet run alive: a long epoch, an evaluation.

The heartbeats do not ride on the background logger's thread: a heartbeat is a unary
call that may wait on an unreachable server, and metric streaming must never wait
behind it, nor a heartbeat behind a full send window.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import grpc

from trackway.client.errors import from_rpc_error
from trackway.errors import FailedPrecondition, NotFound, TrackwayError
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc

LEASE_ENV = "TRACKWAY_RUN_LEASE_SECONDS"
# The lease of runs started by the fluent API: a killed process's run is FAILED a
# minute (plus the server's sweep interval) after its last heartbeat.
DEFAULT_LEASE_SECONDS = 60
# A heartbeat that failed on the way (UNAVAILABLE, a deadline) is tried again this soon,
# or sooner when the lease is short.
_RETRY_SECONDS = 2.0
_LONGEST_CALL_SECONDS = 10.0


def lease_seconds_from_env() -> int:
    """The lease for runs that start_run creates: TRACKWAY_RUN_LEASE_SECONDS (0 for no
    lease and no heartbeats), else 60 s."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        seconds = int(raw)
    except ValueError:
        raise ValueError(f"{LEASE_ENV}={raw!r} is not a whole number of seconds") from None
    if seconds < 0:
        raise ValueError(f"{LEASE_ENV}={raw!r} must be 0 (no lease) or more")
    return seconds


@dataclass
class _Lease:
    seconds: int
    due: float  # time.monotonic() of the next heartbeat

    @property
    def interval(self) -> float:
        return max(self.seconds / 3, 0.2)


class RunHeartbeats:
    """Renews the leases of the runs added until they are discarded. Thread-safe.

    A run that the server says is no longer RUNNING (the sweeper failed it after a
    silence longer than its lease, or another client ended it), or that is gone, is
    dropped with a warning on stderr; other failures are retried soon after."""

    def __init__(self, stub: pb_grpc.TrackingServiceStub, target: str = "") -> None:
        self._stub = stub
        self._target = target
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.beats = 0  # heartbeats the server answered, for tests and curiosity

    def add(self, run_id: str, lease_seconds: int, *, at_once: bool = False) -> None:
        """Heartbeats `run_id` with this lease length until `discard`. The first one is
        a third of the lease from now, or at once with `at_once` (a resumed run, whose
        lease is set by that first heartbeat)."""
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        with self._lock:
            if self._closed:
                return
            lease = _Lease(lease_seconds, 0.0)
            lease.due = time.monotonic() + (0.0 if at_once else lease.interval)
            self._leases[run_id] = lease
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="trackway-heartbeat", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def discard(self, run_id: str) -> None:
        """Stops heartbeating `run_id` (a no-op when it is not heartbeated)."""
        with self._lock:
            self._leases.pop(run_id, None)

    def runs(self) -> list[str]:
        """The runs heartbeated now."""
        with self._lock:
            return list(self._leases)

    def close(self) -> None:
        """Stops the thread; the leases then run out unless the runs end first."""
        with self._lock:
            self._closed = True
            self._leases.clear()
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            # A heartbeat in flight to an unreachable server is not waited for: the
            # thread is a daemon and stops once that call times out.
            thread.join(1.0)

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                due = [
                    (run_id, lease) for run_id, lease in self._leases.items() if lease.due <= now
                ]
                later = [lease.due for lease in self._leases.values() if lease.due > now]
            for run_id, lease in due:
                self._beat(run_id, lease)
            if due:
                continue  # the beats took time: look at the clock again
            self._wake.wait(min(later) - now if later else None)
            self._wake.clear()

    def _beat(self, run_id: str, lease: _Lease) -> None:
        try:
            self._stub.HeartbeatRun(
                pb.HeartbeatRunRequest(run_id=run_id, lease_seconds=lease.seconds),
                timeout=min(lease.interval, _LONGEST_CALL_SECONDS),
            )
        except grpc.RpcError as exc:
            error = from_rpc_error(exc, self._target)
            if isinstance(error, (FailedPrecondition, NotFound)):
                self._drop(run_id, lease, error)
                return
            lease.due = time.monotonic() + min(_RETRY_SECONDS, lease.interval)
            return
        self.beats += 1
        lease.due = time.monotonic() + lease.interval

    def _drop(self, run_id: str, lease: _Lease, error: TrackwayError) -> None:
        with self._lock:
            if self._leases.get(run_id) is not lease:
                return  # discarded (the run ended) while the heartbeat was on its way
            del self._leases[run_id]
        print(f"trackway: warning: no more heartbeats for run {run_id}: {error}", file=sys.stderr)
