"""Ingest workloads: LogBatch, LogStream, and concurrent LogStream writers.

Each compares itself with raw SQLite inserts of the same rows in the same batch sizes
(`raw_sqlite`), timed in the same invocation, and records the server's peak RSS.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from bench import client
from bench.client import Series
from bench.context import Context, count_points
from bench.log import progress
from bench.raw_sqlite import RawBaseline
from bench.results import Record, median, rounded, throughput
from bench.server import BenchServer, RssSampler

LOGBATCH_SERIES = Series(keys=10, steps=10_000)  # 100,000 points
LOGBATCH_SIZE = 1_000
STREAM_SERIES = Series(keys=10, steps=10_000)  # 100,000 points
STREAM_BATCH = 5_000
WRITERS = 8
WRITER_SERIES = Series(keys=10, steps=2_000)  # 20,000 points per writer
WRITER_BATCH = 5_000

LOGBATCH_TARGET = 150_000
STREAM_TARGET = 300_000
CONCURRENT_TARGET = 200_000


def _with_raw(rec: Record, raw: RawBaseline, raw_seconds: Sequence[float]) -> Record:
    """Adds the raw SQLite figures before the record's target and verdict."""
    verdict = {k: rec.pop(k) for k in ("target", "meets_target")}
    raw_rate = raw.points / median(raw_seconds)
    rec["raw_points_per_s"] = round(raw_rate)
    rec["raw_seconds_each"] = rounded(raw_seconds)
    rec["ratio_to_raw"] = round(rec["points_per_s"] / raw_rate, 3)
    rec.update(verdict)
    return rec


def _timed_repeats(
    ctx: Context,
    name: str,
    server: BenchServer,
    raw: RawBaseline,
    repeats: int,
    prepare: Callable[[int], Any],
    run: Callable[[Any], float | None],
) -> tuple[list[float], list[float]]:
    """Warm-up (prepare(-1)), then `repeats` timed runs, each followed by a raw SQLite
    run; samples the server's RSS meanwhile. Returns (server seconds, raw seconds).

    `run` is timed from its call to its return, unless it returns its own seconds.
    """
    run(prepare(-1))
    seconds, raw_seconds = [], []
    with RssSampler(server.pid) as sampler:
        for i in range(repeats):
            job = prepare(i)
            started = time.perf_counter()
            own = run(job)
            seconds.append(time.perf_counter() - started if own is None else own)
            raw_seconds.append(raw.time())
            progress(f"{name}: {i + 1}/{repeats}: {seconds[-1]:.3f} s, raw {raw_seconds[-1]:.3f} s")
    ctx.ingest_peaks_mb[name] = sampler.peak_mb
    return seconds, raw_seconds


def logbatch_ingest(ctx: Context) -> list[Record]:
    repeats = ctx.reps(5)
    series = LOGBATCH_SERIES
    with BenchServer(ctx.tmp) as server:
        channel, stub = client.connect(server.target)
        experiment = client.create_experiment(stub)
        warmup = Series(keys=10, steps=100)

        def prepare(i: int) -> list[Any]:
            run_id = client.create_run(stub, experiment)
            return client.log_batch_requests(run_id, warmup if i < 0 else series, LOGBATCH_SIZE)

        def run(requests: list[Any]) -> None:
            for request in requests:
                stub.LogBatch(request)

        raw = RawBaseline(server.root / "raw.db", series.raw_batches(LOGBATCH_SIZE))
        seconds, raw_seconds = _timed_repeats(
            ctx, "logbatch_ingest", server, raw, repeats, prepare, run
        )
        raw.close()
        channel.close()
        stored = count_points(server.db_path)
        rec = throughput(
            "logbatch_ingest",
            series.points,
            seconds,
            target_points_per_s=LOGBATCH_TARGET,
            batch_points=LOGBATCH_SIZE,
            keys=series.keys,
            server_peak_rss_mb=ctx.ingest_peaks_mb["logbatch_ingest"],
            points_stored_ok=stored == warmup.points + repeats * series.points,
        )
        return [_with_raw(rec, raw, raw_seconds)]


def stream_ingest(ctx: Context) -> list[Record]:
    repeats = ctx.reps(5)
    series = STREAM_SERIES
    with BenchServer(ctx.tmp) as server:
        channel, stub = client.connect(server.target)
        experiment = client.create_experiment(stub)
        warmup = Series(keys=10, steps=STREAM_BATCH // 10)

        def prepare(i: int) -> list[Any]:
            run_id = client.create_run(stub, experiment)
            return client.stream_batches(run_id, warmup if i < 0 else series, STREAM_BATCH)

        def run(batches: list[Any]) -> None:
            client.send_stream(stub, uuid.uuid4().hex, batches)

        raw = RawBaseline(server.root / "raw.db", series.raw_batches(STREAM_BATCH))
        seconds, raw_seconds = _timed_repeats(
            ctx, "stream_ingest", server, raw, repeats, prepare, run
        )
        raw.close()
        channel.close()
        stored = count_points(server.db_path)
        rec = throughput(
            "stream_ingest",
            series.points,
            seconds,
            target_points_per_s=STREAM_TARGET,
            batch_points=STREAM_BATCH,
            keys=series.keys,
            server_peak_rss_mb=ctx.ingest_peaks_mb["stream_ingest"],
            points_stored_ok=stored == warmup.points + repeats * series.points,
        )
        return [_with_raw(rec, raw, raw_seconds)]


def _writer_process(target: str, pipe: Connection) -> None:
    """One concurrent writer: per job, build its batches, report ready, wait for the
    start signal, stream, and report the monotonic time at its last ack."""
    try:
        channel, stub = client.connect(target)
        while (job := pipe.recv()) is not None:
            run_id, seed = job
            series = Series(WRITER_SERIES.keys, WRITER_SERIES.steps, seed)
            batches = client.stream_batches(run_id, series, WRITER_BATCH)
            pipe.send("ready")
            pipe.recv()
            client.send_stream(stub, uuid.uuid4().hex, batches)
            pipe.send(time.monotonic())
        channel.close()
    except BaseException as exc:  # reported to the parent, which raises
        pipe.send(f"error: {exc!r}")


def _expect(pipe: Connection, what: str) -> Any:
    reply = pipe.recv()
    if isinstance(reply, str) and reply.startswith("error"):
        raise RuntimeError(f"writer process failed: {reply}")
    if what == "ready" and reply != "ready":
        raise RuntimeError(f"writer process said {reply!r}")
    return reply


def _writers_ready(
    stub: client.Stub, experiment: str, pipes: Sequence[Connection], seed: int
) -> None:
    """Gives each writer a new run; returns once all have built their batches."""
    for i, pipe in enumerate(pipes):
        pipe.send((client.create_run(stub, experiment), seed * 100 + i))
    for pipe in pipes:
        _expect(pipe, "ready")


def _writers_go(pipes: Sequence[Connection]) -> float:
    """Starts every writer; returns the seconds until the last one's last ack."""
    started = time.monotonic()
    for pipe in pipes:
        pipe.send("go")
    return max(float(_expect(pipe, "end")) for pipe in pipes) - started


def concurrent_writers(ctx: Context) -> list[Record]:
    repeats = ctx.reps(3)
    total = WRITERS * WRITER_SERIES.points
    raw_batches = [
        batch
        for w in range(WRITERS)
        for batch in Series(WRITER_SERIES.keys, WRITER_SERIES.steps, w).raw_batches(
            WRITER_BATCH, first_series_id=1 + w * WRITER_SERIES.keys
        )
    ]
    # spawn, not fork: the parent holds live gRPC channels, which do not survive a fork.
    spawn = mp.get_context("spawn")
    with BenchServer(ctx.tmp) as server:
        channel, stub = client.connect(server.target)
        experiment = client.create_experiment(stub)
        pipes, procs = [], []
        for _ in range(WRITERS):
            parent, child = spawn.Pipe()
            proc = spawn.Process(target=_writer_process, args=(server.target, child), daemon=True)
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        raw = RawBaseline(server.root / "raw.db", raw_batches)
        try:
            seconds, raw_seconds = _timed_repeats(
                ctx,
                "concurrent_writers",
                server,
                raw,
                repeats,
                lambda i: _writers_ready(stub, experiment, pipes, seed=i + 1),
                lambda _: _writers_go(pipes),
            )
        finally:
            raw.close()
            for pipe in pipes:
                pipe.send(None)
            for proc in procs:
                proc.join(10)
        channel.close()
        stored = count_points(server.db_path)
        rec = throughput(
            "concurrent_writers",
            total,
            seconds,
            target_points_per_s=CONCURRENT_TARGET,
            writers=WRITERS,
            points_per_writer=WRITER_SERIES.points,
            batch_points=WRITER_BATCH,
            writer_kind="process",
            server_peak_rss_mb=ctx.ingest_peaks_mb["concurrent_writers"],
            points_stored_ok=stored == (repeats + 1) * total,
        )
        return [_with_raw(rec, raw, raw_seconds)]
