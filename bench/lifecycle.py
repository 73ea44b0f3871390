"""Start-up time and memory of the server process tree."""

from __future__ import annotations

import time
import uuid

from bench import client
from bench.client import Series
from bench.context import Context
from bench.log import progress
from bench.results import MIB_DIGITS, Record, median, record, rounded
from bench.server import MIB, BenchServer, RssSampler, tree_rss

START_TARGET_S = 2.0
IDLE_RSS_TARGET_MB = 150.0
IDLE_SECONDS = 2.0


def server_start(ctx: Context) -> list[Record]:
    """Two records: `variant` "fresh_db" (migrations run) and "existing_db"."""
    repeats = ctx.reps(3)
    fresh = []
    for _ in range(repeats):
        server = BenchServer(ctx.tmp)
        try:
            fresh.append(server.start())
        finally:
            server.cleanup()
    progress(f"server_start: fresh db {rounded(fresh, 3)} s")
    existing = []
    server = BenchServer(ctx.tmp)
    try:
        server.start()  # creates and migrates the database
        server.stop()
        for _ in range(repeats):
            existing.append(server.start())
            server.stop()
    finally:
        server.cleanup()
    progress(f"server_start: existing db {rounded(existing, 3)} s")
    return [
        record(
            "server_start",
            variant=variant,
            repeats=repeats,
            seconds=round(median(sample), 3),
            seconds_each=rounded(sample, 3),
            target=f"<= {START_TARGET_S} s",
            meets_target=median(sample) <= START_TARGET_S,
        )
        for variant, sample in (("fresh_db", fresh), ("existing_db", existing))
    ]


def _ingest_peak_mb(server: BenchServer) -> float:
    """Peak RSS while 100,000 points stream in, for `--only idle_rss`."""
    channel, stub = client.connect(server.target)
    run_id = client.create_run(stub, client.create_experiment(stub))
    batches = client.stream_batches(run_id, Series(keys=10, steps=10_000), 5_000)
    with RssSampler(server.pid) as sampler:
        client.send_stream(stub, uuid.uuid4().hex, batches)
    channel.close()
    return sampler.peak_mb


def idle_rss(ctx: Context) -> list[Record]:
    """Idle RSS of fresh servers, plus the peak RSS seen during the ingest workloads."""
    repeats = ctx.reps(3)
    idle = []
    own_peak = None
    for i in range(repeats):
        with BenchServer(ctx.tmp) as server:
            time.sleep(IDLE_SECONDS)
            idle.append(tree_rss(server.pid) / MIB)
            if i == 0 and not ctx.ingest_peaks_mb:
                own_peak = _ingest_peak_mb(server)
    peaks = dict(ctx.ingest_peaks_mb)
    if own_peak is not None:
        peaks["stream_ingest_100k"] = own_peak
    value = median(idle)
    return [
        record(
            "idle_rss",
            repeats=repeats,
            idle_rss_mb=round(value, MIB_DIGITS),
            idle_rss_mb_each=rounded(idle, MIB_DIGITS),
            peak_rss_during_ingest_mb=max(peaks.values()) if peaks else None,
            peak_rss_by_workload_mb=peaks,
            target=f"idle <= {IDLE_RSS_TARGET_MB} MB",
            meets_target=value <= IDLE_RSS_TARGET_MB,
        )
    ]
