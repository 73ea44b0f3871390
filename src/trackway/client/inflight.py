"""Batches sent but not yet acknowledged, and the flush markers waiting on them.

This is where exactly-once lives on the client side. Each batch has a `serial` (fixed)
and a `seq` (its number on the writer's stream). The server commits a writer's batches
strictly in seq order, each with the writer's last seq in the same transaction, and acks
in order. So after any break:

- the server's `last_committed_seq` L says exactly which batches are in: every batch
  with seq <= L is committed (dropped here, as if acked), none with seq > L is;
- the rest are renumbered L+1, L+2, ... in serial order and sent again.

A batch that the server refuses ends the stream without being committed, and neither
is anything after it (a gap), so it is dropped (the failure is recorded) and the rest
move up one place at the next open. No batch is ever committed twice, none is lost
while the process lives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from trackway.client.batches import Marker, Outgoing


class Inflight:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._by_seq: dict[int, Outgoing] = {}
        self._next_seq = 1
        self._next_serial = 1
        self._markers: list[Marker] = []
        self.points = 0
        self.acked_points = 0
        self.acked_batches = 0

    def __len__(self) -> int:
        return len(self._by_seq)

    @property
    def last_serial(self) -> int:
        return self._next_serial - 1

    def add(self, out: Outgoing) -> None:
        """Numbers a new batch (serial and seq) and holds it until acknowledged."""
        with self.lock:
            out.serial = self._next_serial
            self._next_serial += 1
            out.seq = self._next_seq
            self._next_seq += 1
            self._by_seq[out.seq] = out
            self.points += out.points

    def ack(self, seq: int) -> int:
        """Everything up to `seq` is committed; returns how many batches that freed."""
        with self.lock:
            freed = 0
            for s in [s for s in self._by_seq if s <= seq]:
                out = self._by_seq.pop(s)
                self.points -= out.points
                self.acked_points += out.points
                freed += 1
            self.acked_batches += freed
            self._settle()
            return freed

    def drop(self, seq: int | None = None) -> Outgoing | None:
        """Forgets a refused batch (the oldest when `seq` is None); the caller records why."""
        with self.lock:
            if not self._by_seq:
                return None
            key = next(iter(self._by_seq)) if seq is None else seq
            out = self._by_seq.pop(key, None)
            if out is not None:
                self.points -= out.points
                self._settle()
            return out

    def head(self) -> Outgoing | None:
        with self.lock:
            return next(iter(self._by_seq.values()), None)

    def reconcile(self, last_committed: int) -> list[Outgoing]:
        """After an open: drops what the server holds, renumbers the rest from
        `last_committed` + 1; returns the batches to send again, in order."""
        with self.lock:
            rest: list[Outgoing] = []
            for seq, out in self._by_seq.items():
                if seq <= last_committed:
                    self.points -= out.points
                    self.acked_points += out.points
                    self.acked_batches += 1
                else:
                    rest.append(out)
            rest.sort(key=lambda o: o.serial)
            self._by_seq = {}
            seq = last_committed
            for out in rest:
                seq += 1
                out.seq = seq
                self._by_seq[seq] = out
            self._next_seq = seq + 1
            self._settle()
            return rest

    def mark(self, marker: Marker) -> None:
        """The marker completes once every batch numbered so far is settled."""
        with self.lock:
            marker.serial = self._next_serial - 1
            self._markers.append(marker)
            self._settle()

    def _settle(self) -> None:
        oldest = min((o.serial for o in self._by_seq.values()), default=self._next_serial)
        waiting = []
        for marker in self._markers:
            if marker.serial < oldest:
                marker.done.set()
            else:
                waiting.append(marker)
        self._markers = waiting

    def release_markers(self, settle: Callable[[Marker], None]) -> None:
        """Hands every waiting marker to `settle` (used when the logger stops)."""
        with self.lock:
            markers, self._markers = self._markers, []
        for marker in markers:
            settle(marker)
