"""Turns what the logger drained from its buffer into columnar LogStream batches.

The buffer holds metric points as 5-tuples `(run_id, key, value, step, timestamp_ms)`
(the cheapest thing to append) and everything else as `Record`s. Batches hold one run
each. Metric points and params/tags travel in separate batches, so that a param the
server refuses (params are write-once) cannot take metric points down with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from trackway.gen.tracking.v1 import run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.tracking import limits

PARAM = "param"
TAG = "tag"


class Record:
    """A param or a tag in the buffer."""

    __slots__ = ("key", "kind", "run_id", "value")

    def __init__(self, kind: str, run_id: str, key: str, value: str) -> None:
        self.kind = kind
        self.run_id = run_id
        self.key = key
        self.value = value


class Marker:
    """A flush barrier in the buffer: done once everything before it is acknowledged
    (or failed, with the failure recorded)."""

    __slots__ = ("done", "serial")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.serial = 0


@dataclass
class Outgoing:
    """One batch on its way: `serial` orders batches for ever, `seq` is its number on
    the stream, which changes when an earlier batch fails and the rest move up."""

    serial: int
    run_id: str
    batch: pb.LogStreamBatch
    points: int = 0
    params: int = 0
    tags: int = 0
    seq: int = 0
    attempts: int = field(default=0, compare=False)

    def describe(self) -> str:
        parts = [
            f"{n} {what}"
            for n, what in ((self.points, "points"), (self.params, "params"), (self.tags, "tags"))
            if n
        ]
        return ", ".join(parts) or "nothing"


Columns = tuple[list[int], list[int], list[float]]


def group(
    items: Iterable[object],
) -> tuple[
    dict[str, dict[str, Columns]],
    dict[str, dict[str, str]],
    dict[str, dict[str, str]],
    list[Marker],
]:
    """Groups drained items by run: metric columns per key (in logging order), params and
    tags (the last value of a key wins), and the flush markers met on the way."""
    metrics: dict[tuple[str, str], Columns] = {}
    params: dict[str, dict[str, str]] = {}
    tags: dict[str, dict[str, str]] = {}
    markers: list[Marker] = []
    for item in items:
        if item.__class__ is tuple:
            run_id, key, value, step, stamp = item
            cols = metrics.get((run_id, key))
            if cols is None:
                cols = metrics[(run_id, key)] = ([], [], [])
            cols[0].append(step)
            cols[1].append(stamp)
            cols[2].append(value)
        elif isinstance(item, Record):
            target = params if item.kind == PARAM else tags
            target.setdefault(item.run_id, {})[item.key] = item.value
        elif isinstance(item, Marker):
            markers.append(item)
    by_run: dict[str, dict[str, Columns]] = {}
    for (run_id, key), cols in metrics.items():
        by_run.setdefault(run_id, {})[key] = cols
    return by_run, params, tags, markers


def metric_batches(
    run_id: str, columns: dict[str, Columns], max_points: int, worker: str = ""
) -> list[Outgoing]:
    """Batches of at most `max_points` points; a long column is split across batches.
    Every column carries the process's `worker` label."""
    out: list[Outgoing] = []
    batch = pb.LogStreamBatch(run_id=run_id)
    room = max_points
    count = 0
    for key, (steps, stamps, values) in columns.items():
        start = 0
        while start < len(values):
            take = min(room, len(values) - start)
            end = start + take
            col = batch.metrics.add(key=key, worker=worker)
            if start == 0 and end == len(values):
                col.steps.extend(steps)
                col.timestamps.extend(stamps)
                col.values.extend(values)
            else:
                col.steps.extend(steps[start:end])
                col.timestamps.extend(stamps[start:end])
                col.values.extend(values[start:end])
            count += take
            room -= take
            start = end
            if room == 0:
                out.append(Outgoing(0, run_id, batch, points=count))
                batch = pb.LogStreamBatch(run_id=run_id)
                room = max_points
                count = 0
    if count:
        out.append(Outgoing(0, run_id, batch, points=count))
    return out


def record_batches(run_id: str, params: dict[str, str], tags: dict[str, str]) -> list[Outgoing]:
    """Params and tags of a run, at most 100 of each per batch."""
    p_items = list(params.items())
    t_items = list(tags.items())
    out: list[Outgoing] = []
    step_p, step_t = limits.MAX_BATCH_PARAMS, limits.MAX_BATCH_TAGS
    count = max(-(-len(p_items) // step_p), -(-len(t_items) // step_t))
    for i in range(count):
        ps = p_items[i * step_p : (i + 1) * step_p]
        ts = t_items[i * step_t : (i + 1) * step_t]
        batch = pb.LogStreamBatch(
            run_id=run_id,
            params=[run_pb2.Param(key=k, value=v) for k, v in ps],
            tags=[run_pb2.RunTag(key=k, value=v) for k, v in ts],
        )
        out.append(Outgoing(0, run_id, batch, params=len(ps), tags=len(ts)))
    return out


def build(
    items: Iterable[object], max_points: int, worker: str = ""
) -> tuple[list[Outgoing], list[Marker]]:
    """The batches for drained items, in a stable order, and the markers found; metric
    columns carry the `worker` label."""
    metrics, params, tags, markers = group(items)
    out: list[Outgoing] = []
    for run_id in {*params, *tags}:
        out.extend(record_batches(run_id, params.get(run_id, {}), tags.get(run_id, {})))
    for run_id, columns in metrics.items():
        out.extend(metric_batches(run_id, columns, max_points, worker))
    return out, markers
