"""Batches the server refused, kept until the next flush() raises them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from trackway.client.batches import Outgoing
from trackway.errors import TrackwayError


@dataclass
class Failure:
    run_id: str
    error: TrackwayError
    batches: int = 0
    points: int = 0
    params: int = 0
    tags: int = 0

    def describe(self) -> str:
        parts = [
            f"{n} {what}"
            for n, what in ((self.points, "points"), (self.params, "params"), (self.tags, "tags"))
            if n
        ]
        lost = ", ".join(parts) or "nothing"
        where = f" to run {self.run_id}" if self.run_id else ""
        return (
            f"background logging{where} failed: {self.error.message} "
            f"({lost} in {self.batches} batch{'es' if self.batches != 1 else ''} not written)"
        )


class Failures:
    """Refusals grouped by run, exception type and message, so that a deleted run's
    thousand refused batches make one error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, type, str], Failure] = {}

    def __bool__(self) -> bool:
        return bool(self._items)

    def record(self, out: Outgoing | None, error: TrackwayError, run_id: str = "") -> None:
        run = out.run_id if out is not None else run_id
        with self._lock:
            key = (run, type(error), error.message)
            found = self._items.setdefault(key, Failure(run, error))
            if out is not None:
                found.batches += 1
                found.points += out.points
                found.params += out.params
                found.tags += out.tags

    def take(self) -> list[Failure]:
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
            return items

    def raise_pending(self) -> None:
        """Raises the first recorded failure as its own exception type, naming the rest."""
        items = self.take()
        if not items:
            return
        first = items[0]
        message = first.describe()
        if len(items) > 1:
            message += "; also " + "; ".join(f.describe() for f in items[1:])
        error = type(first.error)(
            message, list(first.error.violations), {**first.error.metadata, "run_id": first.run_id}
        )
        raise error
