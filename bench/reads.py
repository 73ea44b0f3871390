"""Latency workloads: single LogMetric calls, SearchRuns, and GetMetricHistory."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench import client
from bench.client import Series
from bench.context import Context
from bench.log import progress
from bench.results import Record, median, percentile, record, rounded
from bench.server import BenchServer
from trackway.gen.tracking.v1 import metric_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb

LATENCY_CALLS = 2_000
LATENCY_WARMUP = 200
LATENCY_TARGET_P50_MS = 1.0

SEARCH_RUNS = 5_000
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"
SEARCH_ORDER = "metrics.m2 DESC"
SEARCH_PAGE = 100
SEARCH_TARGET_MS = 50.0

HISTORY_POINTS = 100_000
HISTORY_SEED_BATCH = 50_000
HISTORY_PAGE = 100_000
HISTORY_MAX_POINTS = 1_000
HISTORY_FULL_TARGET_MS = 150.0
HISTORY_DOWNSAMPLED_TARGET_MS = 30.0


def _ms_each(calls: int, fn: Callable[[], object]) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def log_metric_latency(ctx: Context) -> list[Record]:
    repeats = ctx.reps(5)
    with BenchServer(ctx.tmp) as server:
        channel, stub = client.connect(server.target)
        run_id = client.create_run(stub, client.create_experiment(stub))
        step = 0

        def call() -> None:
            nonlocal step
            step += 1
            metric = metric_pb2.Metric(
                key="loss", value=1.0 / step, timestamp=client.BASE_TS + step, step=step
            )
            stub.LogMetric(pb.LogMetricRequest(run_id=run_id, metric=metric))

        _ms_each(LATENCY_WARMUP, call)
        p50s, p99s, means = [], [], []
        for i in range(repeats):
            sample = _ms_each(LATENCY_CALLS, call)
            p50s.append(percentile(sample, 50))
            p99s.append(percentile(sample, 99))
            means.append(sum(sample) / len(sample))
            progress(f"log_metric_latency: repeat {i + 1}/{repeats}: p50 {p50s[-1]:.3f} ms")
        channel.close()
    p50 = median(p50s)
    return [
        record(
            "log_metric_latency",
            calls=LATENCY_CALLS,
            repeats=repeats,
            p50_ms=round(p50, 3),
            p99_ms=round(median(p99s), 3),
            mean_ms=round(median(means), 3),
            p50_ms_each=rounded(p50s, 3),
            p99_ms_each=rounded(p99s, 3),
            target=f"p50 <= {LATENCY_TARGET_P50_MS} ms",
            meets_target=p50 <= LATENCY_TARGET_P50_MS,
        )
    ]


def _seed_runs(stub: client.Stub, experiment: str, count: int) -> list[str]:
    """`count` runs with 5 params, 5 metrics and 3 tags each, over one LogStream."""
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(lambda _: client.create_run(stub, experiment), range(count)))
    rng = random.Random(7)
    batches = [client.run_data_batch(i + 1, r, rng) for i, r in enumerate(run_ids)]
    client.send_stream(stub, uuid.uuid4().hex, batches)
    return run_ids


def search_runs(ctx: Context) -> list[Record]:
    calls = max(20, 4 * ctx.reps(5))
    with BenchServer(ctx.tmp) as server:
        channel, stub = client.connect(server.target)
        experiment = client.create_experiment(stub)
        progress(f"search_runs: seeding {SEARCH_RUNS} runs")
        seeded = time.perf_counter()
        _seed_runs(stub, experiment, SEARCH_RUNS)
        seed_seconds = time.perf_counter() - seeded
        request = pb.SearchRunsRequest(
            experiment_ids=[experiment],
            filter=SEARCH_FILTER,
            order_by=[SEARCH_ORDER],
            page_size=SEARCH_PAGE,
        )
        found = len(stub.SearchRuns(request).runs)  # warm-up, and a check
        found = len(stub.SearchRuns(request).runs)
        sample = _ms_each(calls, lambda: stub.SearchRuns(request))
        channel.close()
    p50 = median(sample)
    return [
        record(
            "search_runs",
            runs=SEARCH_RUNS,
            filter=SEARCH_FILTER,
            order_by=SEARCH_ORDER,
            page_size=SEARCH_PAGE,
            runs_returned=found,
            repeats=calls,
            median_ms=round(p50, 3),
            p90_ms=round(percentile(sample, 90), 3),
            min_ms=round(min(sample), 3),
            seed_seconds=round(seed_seconds, 2),
            target=f"median <= {SEARCH_TARGET_MS} ms",
            meets_target=p50 <= SEARCH_TARGET_MS and found == SEARCH_PAGE,
        )
    ]


def _read_full(stub: client.Stub, run_id: str, key: str) -> tuple[int, int]:
    """Pages through the whole series; returns (points, pages)."""
    points, pages, token = 0, 0, ""
    while True:
        reply = stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(
                run_id=run_id, metric_key=key, page_size=HISTORY_PAGE, page_token=token
            )
        )
        points += len(reply.points.values)
        pages += 1
        token = reply.next_page_token
        if not token:
            return points, pages


def metric_history(ctx: Context) -> list[Record]:
    """Two records: `variant` "full" (page through all points) and "downsampled"."""
    full_calls = ctx.reps(10)
    down_calls = max(20, ctx.reps(20))
    series = Series(keys=1, steps=HISTORY_POINTS)
    with BenchServer(ctx.tmp) as server:
        channel, stub = client.connect(server.target)
        run_id = client.create_run(stub, client.create_experiment(stub))
        progress(f"metric_history: seeding {HISTORY_POINTS} points")
        client.send_stream(
            stub, uuid.uuid4().hex, client.stream_batches(run_id, series, HISTORY_SEED_BATCH)
        )
        key = series.key(0)
        points, pages = _read_full(stub, run_id, key)  # warm-up, and a check
        full = _ms_each(full_calls, lambda: _read_full(stub, run_id, key))
        down_request = pb.GetMetricHistoryRequest(
            run_id=run_id, metric_key=key, max_points=HISTORY_MAX_POINTS
        )
        kept = len(stub.GetMetricHistory(down_request).points.values)
        down = _ms_each(down_calls, lambda: stub.GetMetricHistory(down_request))
        channel.close()
    full_ms, down_ms = median(full), median(down)
    return [
        record(
            "metric_history",
            variant="full",
            points=HISTORY_POINTS,
            points_returned=points,
            page_size=HISTORY_PAGE,
            pages=pages,
            repeats=full_calls,
            median_ms=round(full_ms, 3),
            min_ms=round(min(full), 3),
            points_per_s=round(HISTORY_POINTS / (full_ms / 1000.0)),
            target=f"median <= {HISTORY_FULL_TARGET_MS} ms",
            meets_target=full_ms <= HISTORY_FULL_TARGET_MS and points == HISTORY_POINTS,
        ),
        record(
            "metric_history",
            variant="downsampled",
            points=HISTORY_POINTS,
            max_points=HISTORY_MAX_POINTS,
            points_returned=kept,
            repeats=down_calls,
            median_ms=round(down_ms, 3),
            min_ms=round(min(down), 3),
            target=f"median <= {HISTORY_DOWNSAMPLED_TARGET_MS} ms",
            meets_target=down_ms <= HISTORY_DOWNSAMPLED_TARGET_MS
            and 0 < kept <= HISTORY_MAX_POINTS,
        ),
    ]
