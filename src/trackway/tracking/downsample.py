"""Shape-keeping reduction of a metric series for charts, in bounded memory.

The step range is cut into equal buckets. Each bucket keeps its lowest and highest
point, so spikes and dips survive, and the series keeps its first and last point.
Every returned point is a real logged point. Points arrive sorted by step in chunks,
so a bucket is a contiguous slice of a chunk and the work is a few C-level passes;
only one chunk and one entry per bucket are held at a time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

# (step, timestamp, value), or with a fourth entry, the worker label, when fed one.
Point = tuple[Any, ...]


class Reducer:
    """Feeds on step-sorted chunks of a series whose first and last steps are known."""

    def __init__(self, first_step: int, last_step: int, max_points: int) -> None:
        self._lo = first_step
        self._span = last_step - first_step + 1
        self._max_points = max_points
        self._buckets = max(1, (max_points - 2) // 2)
        self._low: dict[int, tuple[float, Point]] = {}
        self._high: dict[int, tuple[float, Point]] = {}
        self._first: Point | None = None
        self._last: Point | None = None

    def bucket_steps(self) -> int:
        """How many steps one bucket spans."""
        return self._span // self._buckets

    def _bucket(self, step: int) -> int:
        return (step - self._lo) * self._buckets // self._span

    def _bucket_start(self, bucket: int) -> int:
        return self._lo + (bucket * self._span + self._buckets - 1) // self._buckets

    def feed(
        self,
        steps: Sequence[int],
        stamps: Sequence[int],
        values: Sequence[float | None],
        workers: Sequence[str | None] | None = None,
    ) -> None:
        """Takes a chunk; with `workers`, each kept point carries its label as a 4th entry."""
        if not steps:
            return
        cols: tuple[Sequence[Any], ...] = (steps, stamps, values)
        if workers is not None:
            cols = (*cols, workers)
        if self._first is None:
            self._first = tuple(c[0] for c in cols)
        self._last = tuple(c[-1] for c in cols)
        start = 0
        last_bucket = self._bucket(steps[-1])
        for bucket in range(self._bucket(steps[0]), last_bucket + 1):
            end = (
                len(steps)
                if bucket == last_bucket
                else bisect_left(steps, self._bucket_start(bucket + 1), start)
            )
            if end > start:
                self._take(bucket, cols, start, end)
            start = end

    def feed_extremes(self, low: Point, high: Point) -> None:
        """Offers a block's lowest and highest point; each lands in its own bucket."""
        for point, store, better in (
            (low, self._low, float.__lt__),
            (high, self._high, float.__gt__),
        ):
            value = point[2]
            if value is None:
                continue
            bucket = self._bucket(point[0])
            if bucket not in store or better(float(value), store[bucket][0]):
                store[bucket] = (float(value), point)

    def set_ends(self, first: Point, last: Point) -> None:
        self._first, self._last = first, last

    def _take(self, bucket: int, cols: tuple[Sequence[Any], ...], start: int, end: int) -> None:
        values = cols[2]
        chunk = values[start:end]
        if None in chunk:
            numbers = [v for v in chunk if v is not None]
            if not numbers:
                return
        else:
            numbers = chunk  # type: ignore[assignment]
        low, high = min(numbers), max(numbers)
        i_low = values.index(low, start, end)
        i_high = values.index(high, start, end)
        if bucket not in self._low or low < self._low[bucket][0]:
            self._low[bucket] = (low, tuple(c[i_low] for c in cols))
        if bucket not in self._high or high > self._high[bucket][0]:
            self._high[bucket] = (high, tuple(c[i_high] for c in cols))

    def result(self) -> list[Point]:
        """The kept points in step order, without repeats; at most `max_points`."""
        if self._first is None or self._last is None:
            return []
        kept = {self._first, self._last}
        extremes = [p for _, p in self._low.values()] + [p for _, p in self._high.values()]
        if len(extremes) + 2 > self._max_points:
            # Room for one point between the ends: keep the one farthest from them.
            ends = [v for v in (self._first[2], self._last[2]) if v is not None]
            middle = sum(ends) / len(ends) if ends else 0.0
            extremes = [max(extremes, key=lambda p: abs((p[2] or 0.0) - middle))][
                : self._max_points - 2
            ]
        kept.update(extremes)
        return sorted(kept, key=lambda p: (p[0], p[1]))
