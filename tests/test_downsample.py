"""Downsampled history from block summaries matches the shape of the raw series."""

from __future__ import annotations

import math
import random

from trackway.tracking.service import TrackingService


def _log(service: TrackingService, run_id: str, points: list[tuple[int, int, float]]) -> None:
    for start in range(0, len(points), 1000):
        chunk = points[start : start + 1000]
        service.log_batch(run_id, metrics=[("m", v, t, s) for s, t, v in chunk])


def test_long_series_reduces_from_blocks_and_keeps_its_extremes(service: TrackingService) -> None:
    run_id = service.create_run(service.create_experiment("blocks").experiment_id).info.run_id
    rng = random.Random(7)
    points = [(s, 1000 + s, math.sin(s / 500) + rng.uniform(-0.1, 0.1)) for s in range(20_000)]
    points[7_777] = (7_777, 8_777, 50.0)
    points[12_345] = (12_345, 13_345, -50.0)
    points[100] = (100, 1100, math.nan)
    order = list(range(0, 20_000, 1000))
    rng.shuffle(order)  # batches arrive out of order: block summaries must merge
    for start in order:
        _log(service, run_id, points[start : start + 1000])
    # One unsorted batch into blocks that already exist.
    late = [(s, 99_999, 0.0) for s in (19_990, 5, 19_995, 3)]
    _log(service, run_id, late)
    every = {(s, t, v) for s, t, v in points if v == v} | set(late)

    (reduced,) = service.metric_history_downsampled([run_id], "m", 100)
    kept = list(zip(reduced.steps, reduced.timestamps, reduced.values, strict=True))
    assert 3 <= len(kept) <= 100
    assert kept[0][:2] == (0, 1000) and kept[-1][0] == 19_999
    assert (7_777, 8_777, 50.0) in kept and (12_345, 13_345, -50.0) in kept
    assert all(p in every for p in kept), "every kept point is a logged point"
    assert [p[0] for p in kept] == sorted(p[0] for p in kept)
    # Each bucket of about 400 steps keeps its extremes, to within one 32-step block.
    width = 20_000 // 49
    for bucket in range(49):
        inside = [v for s, _, v in points if bucket * width <= s < (bucket + 1) * width and v == v]
        chosen = [v for s, _, v in kept if bucket * width - 32 <= s < (bucket + 1) * width + 32]
        assert inside and chosen
        assert min(chosen) <= min(inside) + 0.2 and max(chosen) >= max(inside) - 0.2


def test_short_series_reduces_from_points(service: TrackingService) -> None:
    run_id = service.create_run(service.create_experiment("short").experiment_id).info.run_id
    _log(service, run_id, [(s, s, float(s % 10)) for s in range(500)])
    (reduced,) = service.metric_history_downsampled([run_id], "m", 400)
    assert len(reduced.steps) <= 400 and reduced.steps[0] == 0 and reduced.steps[-1] == 499
