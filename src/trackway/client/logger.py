"""The background logger: log calls append to a buffer and return; one thread sends.

Threads and buffers:
- Callers append to a deque (atomic under the GIL, no lock): a metric point is a
  5-tuple, stamped at the call. The deque is bounded by `buffer_points`; a caller that
  finds it full blocks until the logger thread has made room.
- The logger thread drains the deque every `linger_seconds`, or at once when it holds
  a batch's worth, groups points by run and key into columnar LogStreamBatch messages
  and sends them on one long-lived LogStream without waiting for acks, up to
  `window_points` unacknowledged points.
- A reader thread per stream takes the acks (see `Inflight`) and the stream's end.

Failures: a broken stream or UNAVAILABLE makes the logger thread reconnect with backoff
and resend whatever is unacknowledged after the server's `last_committed_seq`; the
server's per-writer sequence check makes that exactly-once (see `inflight`). A batch
the server refuses is dropped and its error kept; flush() raises it.
"""

from __future__ import annotations

import atexit
import os
import random
import sys
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from operator import index
from typing import Any, NoReturn

import grpc

from trackway.client.batches import PARAM, TAG, Marker, Record, build
from trackway.client.config import LoggerConfig
from trackway.client.errors import RETRYABLE, code_of, from_rpc_error
from trackway.client.failures import Failures
from trackway.client.http_log_session import HttpLogSession
from trackway.client.inflight import Inflight
from trackway.client.stream import StreamSession
from trackway.errors import FailedPrecondition, InvalidArgument, TrackwayError, Unavailable
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.tracking import limits
from trackway.tracking import validation as check

# Codes after which the stream is opened again and the same batches resent.
_RECONNECT = RETRYABLE | {grpc.StatusCode.CANCELLED}
# Codes that may come from a bug on either side: retried a few times, then the oldest
# batch is dropped with the error so that one poison batch cannot stall the logger.
_SUSPECT = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
_SUSPECT_ATTEMPTS = 5
_MIN_BACKOFF = 0.05
_now_ns = time.time_ns

_LIVE: weakref.WeakSet[BackgroundLogger] = weakref.WeakSet()


@dataclass
class LoggerStats:
    batches_sent: int = 0
    points_sent: int = 0
    streams_opened: int = 0
    batches_resent: int = 0
    blocked_calls: int = 0


class BackgroundLogger:
    """Sends metric points, params and tags of any number of runs on one LogStream.

    One per process and client: its writer id is a fresh UUID, so that the server's
    sequence numbers are this process's own. Thread-safe. Not inherited by a forked
    child: there it refuses calls (make a new client in the child).
    """

    def __init__(
        self,
        stub: pb_grpc.TrackingServiceStub,
        target: str = "",
        config: LoggerConfig | None = None,
        *,
        http: bool = False,
    ) -> None:
        """`http`: the stub's channel speaks HTTP, so batches go out as LogColumns calls
        (see `http_log_session`) instead of on a LogStream."""
        self.config = config or LoggerConfig.from_env()
        self._session_class = HttpLogSession if http else StreamSession
        self.writer_id = uuid.uuid4().hex
        self.stats = LoggerStats()
        self._stub = stub
        self._target = target
        self._buf: deque[object] = deque()
        self._capacity = self.config.buffer_points
        self._wake_at = self.config.batch_points
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._inflight = Inflight()
        self._failures = Failures()
        self._keys: set[str] = set()
        self._runs: set[str] = set()
        self._params: dict[tuple[str, str], str] = {}
        self._session: StreamSession | HttpLogSession | None = None
        self._window_full = False
        self._closing = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="trackway-logger", daemon=True)
        self._thread.start()
        _LIVE.add(self)

    # The calls

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = 0,
        timestamp: int | None = None,
    ) -> None:
        """Appends one point, stamped now unless `timestamp` (epoch ms) is given."""
        if key not in self._keys:
            self._check_key(key)
        if run_id not in self._runs:
            self._check_run(run_id)
        try:
            value = float(value)
            step = index(step) if step else 0
            stamp = _now_ns() // 1_000_000 if timestamp is None else index(timestamp)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidArgument(f"metric {key!r}: {exc}") from None
        buf = self._buf
        buf.append((run_id, key, value, step, stamp))
        if len(buf) >= self._wake_at:
            self._busy()

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int | None = 0,
        timestamp: int | None = None,
    ) -> None:
        stamp = time.time_ns() // 1_000_000 if timestamp is None else timestamp
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step, stamp)

    def log_param(self, run_id: str, key: str, value: object) -> None:
        """Params are write-once: a second, different value for a key raises here."""
        text = str(value)
        self._check_record(run_id, key, text, limits.MAX_PARAM_VALUE_LENGTH)
        logged = self._params.setdefault((run_id, key), text)
        if logged != text:
            raise FailedPrecondition(
                f"param {key!r} of run {run_id} was logged as {logged!r}; params are "
                f"write-once, so it cannot change to {text!r}. Log a new key instead."
            )
        self._append(Record(PARAM, run_id, key, text))

    def set_tag(self, run_id: str, key: str, value: object) -> None:
        text = str(value)
        self._check_record(run_id, key, text, limits.MAX_RUN_TAG_VALUE_LENGTH)
        self._append(Record(TAG, run_id, key, text))

    def flush(self, timeout: float | None = None) -> None:
        """Sends everything logged so far and waits until the server acknowledged it.
        Raises the errors of batches the server refused (as their own exception types),
        and Unavailable if `timeout` passes first; the points then stay buffered."""
        marker = Marker()
        self._buf.append(marker)
        self._wake.set()
        self._await(marker, timeout)
        self._failures.raise_pending()

    def close(self, timeout: float | None = None) -> int:
        """Flushes for at most `timeout` seconds (default: the config's exit timeout),
        then stops. Returns how many points were left unsent; refused batches' errors
        are raised as in flush()."""
        if self._closing:
            return 0
        self._closing = True
        marker = Marker()
        self._buf.append(marker)
        self._wake.set()
        wait = self.config.exit_timeout if timeout is None else timeout
        marker.done.wait(wait)
        left = self.pending_points()
        self._stop = True
        self._wake.set()
        self._thread.join(5.0)
        self._refuse_calls("the background logger is closed")
        _LIVE.discard(self)
        self._failures.raise_pending()
        return left

    def pending_points(self) -> int:
        """Points logged but not yet acknowledged (buffered or in flight)."""
        buffered = sum(1 for item in list(self._buf) if item.__class__ is tuple)
        return buffered + self._inflight.points

    # Checks that keep a bad call out of a batch that would sink good points with it

    def _check_key(self, key: str) -> None:
        if not isinstance(key, str):
            raise InvalidArgument(f"metric key {key!r} is not a string")
        check.key("key", key)
        self._keys.add(key)

    def _check_run(self, run_id: str) -> None:
        check.run_id("run_id", run_id)
        self._runs.add(run_id)

    def _check_record(self, run_id: str, key: str, value: str, max_length: int) -> None:
        if run_id not in self._runs:
            self._check_run(run_id)
        if not isinstance(key, str):
            raise InvalidArgument(f"key {key!r} is not a string")
        check.key("key", key)
        check.text(f"value of {key!r}", value, max_length)

    def _append(self, item: object) -> None:
        buf = self._buf
        buf.append(item)
        if len(buf) >= self._wake_at:
            self._busy()
        elif not self._wake.is_set():
            self._wake.set()

    def _busy(self) -> None:
        if len(self._buf) >= self._capacity:
            self._wait_for_space()
        if not self._wake.is_set():
            self._wake.set()

    def _wait_for_space(self) -> None:
        """The documented overflow policy: block until the logger has made room."""
        self.stats.blocked_calls += 1
        self._wake.set()
        with self._space:
            while len(self._buf) >= self._capacity:
                if self._stop or not self._thread.is_alive():
                    raise Unavailable("the background logger has stopped; nothing more is sent")
                self._space.wait(0.05)

    def _await(self, marker: Marker, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not marker.done.wait(0.2):
            if not self._thread.is_alive():
                raise Unavailable(
                    f"the background logger has stopped; {self.pending_points()} points "
                    "were not sent"
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise Unavailable(
                    f"flush did not finish within {timeout} s: {self.pending_points()} points "
                    f"are not yet acknowledged by {self._target or 'the server'}; they stay "
                    "buffered and are sent when it answers"
                )

    # The logger thread

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug: say so; callers see the thread is gone
            print(f"trackway: error: the background logger stopped: {exc!r}", file=sys.stderr)
            raise

    def _loop(self) -> None:
        backoff = _MIN_BACKOFF
        while not self._stop:
            session = self._session
            if session is None or session.ended.is_set():
                if not self._open():
                    self._wake.wait(backoff * (0.5 + random.random()))
                    self._wake.clear()
                    backoff = min(backoff * 2, self.config.max_backoff)
                    continue
                backoff = _MIN_BACKOFF
                session = self._session
                assert session is not None
            budget = self.config.window_points - self._inflight.points
            self._window_full = budget <= 0
            if budget > 0 and self._buf:
                self._pump(session, budget)
                if len(self._buf) >= self._wake_at:
                    continue
            self._wake.wait(self.config.linger_seconds)
            self._wake.clear()
        self._shutdown()

    def _pump(self, session: StreamSession | HttpLogSession, budget: int) -> None:
        buf = self._buf
        take = min(len(buf), budget)
        popleft = buf.popleft
        items = [popleft() for _ in range(take)]
        with self._space:
            self._space.notify_all()
        outgoing, markers = build(items, self.config.batch_points, self.config.worker)
        for out in outgoing:
            self._inflight.add(out)
            session.send(out.batch, out.seq, out.serial)
            self.stats.batches_sent += 1
            self.stats.points_sent += out.points
        for marker in markers:
            self._inflight.mark(marker)

    def _open(self) -> bool:
        """Opens a stream; resends what the server does not hold. False to retry later."""
        session = self._session_class(self._stub, self.writer_id, self._on_ack, self._on_end)
        last = session.wait_opened(self.config.open_timeout)
        if last is None:
            if not session.ended.is_set():
                session.cancel()
            elif session.error is not None and not self._retryable_open(session.error):
                self._fail_everything(session.error)
            return False
        resend = self._inflight.reconcile(last)
        self._session = session
        self.stats.streams_opened += 1
        self.stats.batches_resent += len(resend)
        for out in resend:
            session.send(out.batch, out.seq, out.serial)
        return True

    @staticmethod
    def _retryable_open(error: grpc.RpcError) -> bool:
        code = code_of(error)
        return code in _RECONNECT or code in _SUSPECT

    def _fail_everything(self, error: grpc.RpcError) -> None:
        """The server will not take a stream at all (not a passing outage): fail every
        pending batch with its error rather than hold them, and flushes, for ever."""
        typed = from_rpc_error(error, self._target)
        while (out := self._inflight.drop()) is not None:
            self._failures.record(out, typed)
        items = []
        while self._buf:
            items.append(self._buf.popleft())
        outgoing, markers = build(items, self.config.batch_points, self.config.worker)
        for out in outgoing:
            self._failures.record(out, typed)
        for marker in markers:
            marker.done.set()
        self._inflight.release_markers(lambda m: m.done.set())

    def _on_ack(self, session: object, seq: int) -> None:
        if session is not self._session:
            return
        self._inflight.ack(seq)
        if self._window_full:
            self._wake.set()

    def _on_end(self, session: object, error: grpc.RpcError | None) -> None:
        """Runs on the reader thread before the session counts as ended."""
        if session is not self._session:
            return
        self._wake.set()
        if error is None:
            return
        code = code_of(error)
        if code in _RECONNECT:
            return
        typed = from_rpc_error(error, self._target)
        if code in _SUSPECT:
            head = self._inflight.head()
            if head is not None:
                head.attempts += 1
                if head.attempts >= _SUSPECT_ATTEMPTS:
                    self._failures.record(self._inflight.drop(head.seq), typed)
            return
        if "last_committed_seq" in typed.metadata:
            return  # a gap: the server lost track; the next open renumbers
        seq = typed.metadata.get("seq", "")
        out = self._inflight.drop(int(seq) if seq.isdigit() else None)
        self._failures.record(out, typed)

    def _shutdown(self) -> None:
        session = self._session
        if session is not None and not session.ended.is_set():
            session.close()
            if not session.join(2.0):
                session.cancel()
        self._inflight.release_markers(lambda m: m.done.set())

    # Fork and exit

    def _refuse_calls(self, why: str) -> None:
        def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
            raise FailedPrecondition(why)

        for name in ("log_metric", "log_metrics", "log_param", "set_tag", "flush"):
            setattr(self, name, refuse)

    def _orphan(self) -> None:
        """In a forked child: the thread is gone and the buffer is the parent's to send."""
        self._buf = deque()
        self._stop = True
        self._closing = True
        self._refuse_calls(
            "this background logger belongs to the parent process; a forked child must "
            "create its own client (the fluent API does this by itself)"
        )


def _orphan_all() -> None:
    for logger in list(_LIVE):
        logger._orphan()
    _LIVE.clear()


def _close_all() -> None:
    """At interpreter exit: drain the loggers, all within the longest exit timeout, and
    say on stderr what could not be delivered."""
    loggers = list(_LIVE)
    if not loggers:
        return
    limit = max(logger.config.exit_timeout for logger in loggers)
    deadline = time.monotonic() + limit
    for logger in loggers:
        try:
            left = logger.close(max(0.0, deadline - time.monotonic()))
        except TrackwayError as exc:
            print(f"trackway: error: {exc}", file=sys.stderr)
            continue
        if left:
            print(
                f"trackway: warning: {left} points were not acknowledged by the tracking "
                f"server within {limit:g} s of exit and are lost",
                file=sys.stderr,
            )


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_orphan_all)
atexit.register(_close_all)
