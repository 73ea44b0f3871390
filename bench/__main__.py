"""`python -m bench`: runs the workloads, one JSON line per result on stdout.

Records: every line has "workload", "repeats", "target" and "meets_target". Throughput
workloads (logbatch_ingest, stream_ingest, concurrent_writers) add "points", "seconds"
(median), "points_per_s" (points / median seconds), "raw_points_per_s" and
"ratio_to_raw" (against raw sqlite3 inserts of the same rows, see bench/raw_sqlite.py)
and "server_peak_rss_mb". Latency workloads report milliseconds: log_metric_latency
"p50_ms"/"p99_ms" (medians of the per-repeat percentiles), search_runs and
metric_history "median_ms". metric_history prints two lines, "variant": "full" and
"downsampled"; server_start prints "fresh_db" and "existing_db". idle_rss reports
"idle_rss_mb" and the peak RSS seen during the ingest workloads of the same invocation.
workers_ingest prints one line per `--workers` count on PostgreSQL ("workers": 1 and 2;
the second with "speedup").
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import artifacts, ingest, lifecycle, reads, rest, sdk, workers
from bench.context import Context
from bench.log import progress
from bench.results import Record

Workload = Callable[[Context], list[Record]]

# In running order: idle_rss comes after the ingest workloads, whose peaks it reports.
WORKLOADS: dict[str, Workload] = {
    "logbatch_ingest": ingest.logbatch_ingest,
    "stream_ingest": ingest.stream_ingest,
    "concurrent_writers": ingest.concurrent_writers,
    "log_metric_latency": reads.log_metric_latency,
    "search_runs": reads.search_runs,
    "metric_history": reads.metric_history,
    "server_start": lifecycle.server_start,
    "idle_rss": lifecycle.idle_rss,
    "artifact_transfer": artifacts.artifact_transfer,
    "sdk_log_metric_cost": sdk.sdk_log_metric_cost,
    "sdk_end_to_end": sdk.sdk_end_to_end,
    "sdk_end_to_end_http": sdk.sdk_end_to_end_http,
    "rest_vs_mlflow": rest.rest_vs_mlflow,
    "workers_ingest": workers.workers_ingest,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=list(WORKLOADS),
        metavar="NAME",
        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats of every workload (default: 5 for fast workloads, 3 for heavy ones)",
    )
    parser.add_argument("--out", type=Path, help="also write the JSON lines to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.repeats is not None and args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    names = [n for n in WORKLOADS if not args.only or n in args.only]
    tmp = Path(tempfile.mkdtemp(prefix="trackway-bench-"))
    ctx = Context(tmp=tmp, repeats=args.repeats)
    out = open(args.out, "w") if args.out else None  # noqa: SIM115 - closed below
    failed = []
    try:
        for name in names:
            progress(f"{name}: start")
            try:
                records = WORKLOADS[name](ctx)
            except Exception as exc:  # one failed workload, not the rest
                progress(f"{name}: FAILED: {exc!r}")
                failed.append(name)
                records = [{"workload": name, "error": repr(exc), "meets_target": False}]
            for rec in records:
                line = json.dumps(rec)
                print(line, flush=True)
                if out is not None:
                    out.write(line + "\n")
                    out.flush()
    finally:
        if out is not None:
            out.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        progress(f"failed workloads: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
