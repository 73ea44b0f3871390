"""The Python SDK's cost to a training loop, and its end-to-end throughput.

`sdk_log_metric_cost` times `trackway.log_metric` call by call (the timer's own cost
subtracted): what a training step pays. `sdk_end_to_end` logs 1,000,000 points from one
process and stops the clock when `flush()` returns, i.e. when every point is committed
on the server. `sdk_end_to_end_http` does the same with 200,000 points through an
http:// tracking URI (LogBatch calls on the HTTP port instead of a LogStream); it has no
target, it says what the HTTP door costs.
"""

from __future__ import annotations

import statistics
import time

from bench.context import Context
from bench.log import progress
from bench.results import Record, median, record, rounded
from bench.server import BenchServer

CALLS = 200_000
POINTS = 1_000_000
HTTP_POINTS = 200_000
TARGET_US = 5.0
TARGET_POINTS_PER_S = 200_000


def _timer_overhead_ns() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(100_000):
        started = clock()
        samples.append(clock() - started)
    return statistics.median(samples)


def sdk_log_metric_cost(ctx: Context) -> list[Record]:
    import trackway
    from trackway.fluent import state

    with BenchServer(ctx.tmp) as server:
        trackway.set_tracking_uri(f"grpc://{server.target}")
        trackway.set_experiment("sdk-bench")
        overhead = _timer_overhead_ns()
        medians, p99s = [], []
        clock = time.perf_counter_ns
        for _ in range(ctx.reps(3)):
            with trackway.start_run():
                log = trackway.log_metric
                samples = []
                for step in range(CALLS):
                    started = clock()
                    log("loss", 0.5, step=step)
                    samples.append(clock() - started)
                trackway.flush()
            samples.sort()
            medians.append((samples[len(samples) // 2] - overhead) / 1000)
            p99s.append((samples[int(len(samples) * 0.99)] - overhead) / 1000)
        state.reset()
    us = median(medians)
    return [
        record(
            "sdk_log_metric_cost",
            calls=CALLS,
            repeats=len(medians),
            median_us=round(us, 3),
            p99_us=round(median(p99s), 3),
            median_us_each=rounded(medians, 3),
            target=f"median <= {TARGET_US} us per call",
            meets_target=us <= TARGET_US,
        )
    ]


def _log_and_flush(ctx: Context, name: str, uri: str, points: int) -> list[float]:
    """Seconds per repeat from the first log_metric until flush() returns."""
    import trackway
    from trackway.fluent import state

    seconds: list[float] = []
    trackway.set_tracking_uri(uri)
    trackway.set_experiment(name)
    for i in range(ctx.reps(3)):
        progress(f"{name}: repeat {i + 1}")
        with trackway.start_run():
            log = trackway.log_metric
            started = time.perf_counter()
            for step in range(points):
                log("loss", 0.5, step=step)
            trackway.flush()
            seconds.append(time.perf_counter() - started)
    state.reset()
    return seconds


def sdk_end_to_end(ctx: Context) -> list[Record]:
    with BenchServer(ctx.tmp) as server:
        seconds = _log_and_flush(ctx, "sdk_end_to_end", f"grpc://{server.target}", POINTS)
    rate = POINTS / median(seconds)
    return [
        record(
            "sdk_end_to_end",
            points=POINTS,
            repeats=len(seconds),
            seconds=round(median(seconds), 3),
            seconds_each=rounded(seconds),
            points_per_s=round(rate),
            target=f">= {TARGET_POINTS_PER_S:,} points/s until flush() returns",
            meets_target=rate >= TARGET_POINTS_PER_S,
        )
    ]


def sdk_end_to_end_http(ctx: Context) -> list[Record]:
    with BenchServer(ctx.tmp) as server:
        seconds = _log_and_flush(ctx, "sdk_end_to_end_http", server.http_url, HTTP_POINTS)
    return [
        record(
            "sdk_end_to_end_http",
            points=HTTP_POINTS,
            repeats=len(seconds),
            seconds=round(median(seconds), 3),
            seconds_each=rounded(seconds),
            points_per_s=round(HTTP_POINTS / median(seconds)),
            target="reported only (gRPC is the ingest path)",
            meets_target=True,
        )
    ]
