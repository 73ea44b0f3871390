"""The forwarder: one thread that empties the spool into central, in order, exactly once.

Batches go out on one LogStream whose writer id belongs to the spool (`relay-<uuid>`),
pipelined up to a window, numbered by the forwarder. Before a batch is sent its seq is
written to the spool; central commits a writer's batches strictly in seq order, with
the last seq in the same transaction. So whenever the stream (re)opens, central's
`last_committed_seq` L settles everything, even after `kill -9` of the relay: batches
numbered up to L are in (deleted from the spool), none after L is (numbered again from
L + 1 and resent). Acknowledged batches are deleted as acks arrive.

DeleteTag and LogInputs entries are sent as unary calls with their request ids, once
every batch spooled before them is acknowledged, so that the order of writes holds.

Failures:
- central refuses a write for good (a missing or deleted run, a changed param, bad
  input): the write moves to the spool's `rejected` table with the reason, the error
  is logged, and the rest goes on. A batch's refusal names its seq, so the right one
  is moved.
- an unexplained INTERNAL or UNKNOWN: retried a few times, then treated as a refusal,
  so that one poison write cannot stall the relay.
- anything else (central unreachable, overloaded or restarting, a cancelled stream,
  an authentication or permission error that an operator has to fix): wait with
  backoff and try again, for ever; the spool keeps everything meanwhile. Nothing is
  dropped unless central said what was wrong with that write.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from trackway.client.errors import code_of, from_rpc_error
from trackway.client.stream import StreamSession
from trackway.errors import TrackwayError
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.relay.spool import BATCH, DELETE_TAG, LOG_INPUTS, Depth, Spool, Spooled

log = logging.getLogger(__name__)

_UNARY_REQUESTS: dict[str, Callable[[bytes], Any]] = {
    DELETE_TAG: pb.DeleteTagRequest.FromString,
    LOG_INPUTS: pb.LogInputsRequest.FromString,
}
# Codes with which central refuses one write for good: the same write would fail again.
_REFUSED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.OUT_OF_RANGE,
}
_SUSPECT = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
_SUSPECT_ATTEMPTS = 5
_MIN_BACKOFF = 0.1
_SWEEP_SECONDS = 3600.0


@dataclass
class ForwarderSettings:
    """How much the forwarder keeps in flight and how it waits."""

    window_batches: int = 32
    window_points: int = 500_000
    open_timeout: float = 10.0
    unary_timeout: float = 30.0
    max_backoff: float = 2.0
    report_seconds: float = 10.0


@dataclass
class ForwarderStats:
    """Counters since the relay started; tests read them, the log reports them."""

    forwarded_writes: int = 0
    forwarded_points: int = 0
    rejected_writes: int = 0
    # Batches central had committed without the relay hearing so: not sent twice.
    found_committed: int = 0


class _CentralDown(Exception):
    """Central cannot take writes now; the same writes are tried again after a pause."""


class Forwarder:
    def __init__(
        self,
        spool: Spool,
        channel: grpc.Channel,
        target: str,
        settings: ForwarderSettings | None = None,
    ) -> None:
        self._spool = spool
        self._stub = pb_grpc.TrackingServiceStub(channel)
        self._target = target
        self.settings = settings or ForwarderSettings()
        self.stats = ForwarderStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._session: StreamSession | None = None
        # seq -> entry of the batches sent on the current stream and not yet acked.
        self._inflight: dict[int, Spooled] = {}
        self._inflight_points = 0
        # The batches of the last stream that ended, to find the one an error names.
        self._sent: dict[int, Spooled] = {}
        self._acked = 0  # written by the session's reader thread
        self._settled = 0
        self._cursor = 0  # the id of the last entry sent (or forwarded) since the open
        self._next_seq = 1
        self._attempts: dict[int, int] = {}  # entry id -> suspect failures
        self._down_since: float | None = None
        self._last_report = 0.0
        self._reported: Depth | None = None
        self._last_sweep = time.monotonic()
        spool.on_append(self._wake.set)
        self._thread = threading.Thread(target=self._run, name="trackway-forwarder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_seconds: float) -> Depth:
        """Forwards for up to `drain_seconds` while central answers, then stops; returns
        what is left in the spool (it is sent after the next start)."""
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline and self._thread.is_alive():
            if self._spool.depth().writes == 0 or self._down_since is not None:
                break
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(10.0)
        session = self._session
        if session is not None and not session.ended.is_set():
            session.close()
            if not session.join(2.0):
                session.cancel()
        return self._spool.depth()

    # The loop

    def _run(self) -> None:
        backoff = _MIN_BACKOFF
        while not self._stop.is_set():
            # Cleared before the round, so that a wake-up during it is not lost.
            self._wake.clear()
            try:
                busy = self._step()
            except _CentralDown as exc:
                self._note_down(str(exc))
                self._stop.wait(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.settings.max_backoff)
                continue
            except Exception:
                # A bug or a failing disk: say so, and keep the spool for the next try.
                log.exception("the forwarder failed; retrying")
                self._drop_session()
                self._stop.wait(1.0)
                continue
            backoff = _MIN_BACKOFF
            self._report()
            self._sweep()
            self._wake.wait(0.05 if busy else 0.5)
        self._report(final=True)

    def _step(self) -> bool:
        """One round: settle acks, handle a stream's end, send what the window allows.
        Returns whether work is in progress (False: nothing to do until woken)."""
        self._settle()
        session = self._session
        if session is not None and session.ended.is_set():
            self._drop_session()
            self._after_end(session)
            return True
        room = self.settings.window_batches - len(self._inflight)
        if room <= 0 or self._inflight_points >= self.settings.window_points:
            return True
        found = self._spool.read(self._cursor, room)
        if not found:
            return bool(self._inflight)
        head = found[0]
        if head.kind != BATCH:
            if not self._inflight:  # else earlier batches first: writes keep their order
                self._forward_unary(head)
                self._cursor = head.id
            return True
        if session is None:
            # The open settles what central holds and restarts from the spool's head;
            # the next round reads again from there.
            self._open()
            return True
        batches: list[Spooled] = []
        points = self._inflight_points
        for entry in found:
            if entry.kind != BATCH:
                break
            if batches and points + entry.points > self.settings.window_points:
                break
            batches.append(entry)
            points += entry.points
        self._send(session, batches)
        return True

    def _open(self) -> None:
        session = StreamSession(self._stub, self._spool.writer_id, self._on_ack, self._on_end)
        last = session.wait_opened(self.settings.open_timeout)
        if last is None:
            if not session.ended.is_set():
                session.cancel()
                raise _CentralDown(
                    f"no answer to LogStream open within {self.settings.open_timeout:g} s"
                )
            raise _CentralDown(self._describe(session.error))
        found = self._spool.reconcile(last)
        if found:
            # Sent before a restart or a broken stream, committed, never acknowledged.
            log.info("central already had %d spooled batches; they are not sent again", found)
            self.stats.found_committed += found
        self._restart_from_head()
        self._next_seq = last + 1
        self._acked = self._settled = last
        self._session = session
        self._back_up()

    def _send(self, session: StreamSession, batches: list[Spooled]) -> None:
        numbered = [(entry.id, self._next_seq + i) for i, entry in enumerate(batches)]
        self._spool.number(numbered)
        for entry, (_, seq) in zip(batches, numbered, strict=True):
            self._inflight[seq] = entry
            self._inflight_points += entry.points
            session.send(pb.LogStreamBatch.FromString(entry.payload), seq)
        self._next_seq += len(batches)
        self._cursor = batches[-1].id

    def _on_ack(self, session: StreamSession, seq: int) -> None:
        if session is self._session and seq > self._acked:
            self._acked = seq
            self._wake.set()

    def _on_end(self, session: StreamSession, error: grpc.RpcError | None) -> None:
        self._wake.set()

    def _settle(self) -> None:
        acked = self._acked
        if acked <= self._settled:
            return
        self._spool.settle(acked)
        for seq in [s for s in self._inflight if s <= acked]:
            entry = self._inflight.pop(seq)
            self._inflight_points -= entry.points
            self._attempts.pop(entry.id, None)
            self.stats.forwarded_writes += 1
            self.stats.forwarded_points += entry.points
        self._settled = acked

    def _after_end(self, session: StreamSession) -> None:
        """The stream ended: move a batch that central refused out of the way, or wait
        for central; the next open resends the rest."""
        error = session.error
        if error is None:
            return
        code = code_of(error)
        typed = from_rpc_error(error, self._target)
        if "last_committed_seq" in typed.metadata:
            log.warning("central lost track of the relay's stream (%s); resending", typed)
            return
        seq = typed.metadata.get("seq", "")
        entry = self._sent.get(int(seq)) if seq.isdigit() else None
        if entry is not None and code in _REFUSED:
            self._reject(entry, typed)
            return
        if code in _SUSPECT:
            head = entry or next(iter(self._sent.values()), None)
            if head is not None and self._give_up(head):
                self._reject(head, typed)
                return
        raise _CentralDown(self._describe(error))

    def _forward_unary(self, entry: Spooled) -> None:
        request = _UNARY_REQUESTS[entry.kind](entry.payload)
        try:
            getattr(self._stub, entry.kind)(request, timeout=self.settings.unary_timeout)
        except grpc.RpcError as exc:
            code = code_of(exc)
            if code in _REFUSED or (code in _SUSPECT and self._give_up(entry)):
                self._reject(entry, from_rpc_error(exc, self._target))
                return
            raise _CentralDown(self._describe(exc)) from None
        self._spool.remove(entry.id)
        self._attempts.pop(entry.id, None)
        self.stats.forwarded_writes += 1
        self._back_up()

    def _give_up(self, entry: Spooled) -> bool:
        """Counts an unexplained failure of a write; True once it is hopeless."""
        self._attempts[entry.id] = self._attempts.get(entry.id, 0) + 1
        return self._attempts[entry.id] >= _SUSPECT_ATTEMPTS

    def _reject(self, entry: Spooled, error: TrackwayError) -> None:
        self._spool.reject(entry, f"{type(error).__name__}: {error}")
        self._attempts.pop(entry.id, None)
        self.stats.rejected_writes += 1
        what = f"{entry.points:,} points" if entry.points else entry.kind
        log.error(
            "central refused a spooled write (%s of run %s): %s; it is kept in the spool's "
            "`rejected` table and not retried",
            what,
            entry.run_id,
            error,
        )

    def _drop_session(self) -> None:
        """Forgets the stream and what was in flight on it: what central did not
        acknowledge is read from the spool again, and the next open settles it."""
        session, self._session = self._session, None
        if session is not None and not session.ended.is_set():
            session.cancel()
        self._sent = dict(self._inflight)
        self._restart_from_head()

    def _restart_from_head(self) -> None:
        self._inflight.clear()
        self._inflight_points = 0
        self._cursor = 0

    # Outages and reports

    def _describe(self, error: grpc.RpcError | None) -> str:
        if error is None:
            return "the stream ended"
        return f"{code_of(error).name}: {from_rpc_error(error, self._target)}"

    def _note_down(self, why: str) -> None:
        self._drop_session()
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "central %s does not take writes now (%s); they stay in the spool until it does",
                self._target,
                why,
            )
        self._report()

    def _back_up(self) -> None:
        if self._down_since is not None:
            log.info(
                "central %s is back after %.0f s; forwarding %s",
                self._target,
                time.monotonic() - self._down_since,
                self._spool.depth(),
            )
            self._down_since = None

    def _report(self, final: bool = False) -> None:
        """A log line with the spool's depth every `report_seconds` while it is not
        empty, and once when it empties."""
        now = time.monotonic()
        if not final and now - self._last_report < self.settings.report_seconds:
            return
        self._last_report = now
        depth = self._spool.depth()
        if depth.writes == 0 and (self._reported is None or self._reported.writes == 0):
            self._reported = depth
            return
        self._reported = depth
        down = self._down_since
        state = (
            f"central unavailable for {now - down:.0f} s"
            if down is not None
            else f"{self.stats.forwarded_writes} writes "
            f"({self.stats.forwarded_points:,} points) forwarded so far"
        )
        log.info("spool: %s pending; %s", depth, state)

    def _sweep(self) -> None:
        if time.monotonic() - self._last_sweep >= _SWEEP_SECONDS:
            self._last_sweep = time.monotonic()
            self._spool.sweep()
