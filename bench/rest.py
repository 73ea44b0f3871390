"""REST workloads (issue 5): Trackway's MLflow-compatible HTTP API against a real `mlflow server`.

Both servers get the same requests from the same client: `http.client.HTTPConnection`, one
keep-alive connection per thread, with every JSON body encoded before the clock starts.
The servers run one after the other, never side by side, so neither idles on the other's
cores: first `mlflow server` (uvicorn, `--workers` 4, its default, with its default job
runner), then `trackway server --http-port <free port>`, each on a fresh SQLite database
and artifact directory, and each stopped before the next starts. MLflow goes first because
its measured rates size some of the later work (see below).

Workloads (one record each, all under the bench entry `rest_vs_mlflow`):
- rest_logbatch_ingest: POST runs/log-batch, 1,000 metrics per request (10 keys x 100
  steps), into a new run per repeat; points/s from the median repeat.
- rest_concurrent_writers: 8 threads, each its own connection and run, the same requests,
  started together; points/s = all points / (last writer's end - start).
- rest_metric_history: GET metrics/get-history of one run's 100,000-point metric, paged at
  max_results=25000 until next_page_token is empty; median of the calls. MLflow's metric
  is seeded at its log-batch rate: if 100,000 points would take longer than
  TRACKWAY_BENCH_REST_HISTORY_SEED_S (60 s), MLflow gets fewer and the ratio compares time
  per point.
- rest_search_runs: POST runs/search (filter `metrics.m0 > 0.5 and params.p1 = 'v3'`,
  order_by `metrics.m2 DESC`, max_results 100) over 5,000 runs with 5 params, 5 metrics
  and 3 tags each, seeded over REST by 8 threads (runs/create + one log-batch per run);
  median of the calls. If MLflow's seeding is projected (from its first 250 runs) to exceed
  TRACKWAY_BENCH_REST_SEED_BUDGET_S (240 s), both servers get 2,000 runs instead.
  "same_results" says whether both returned the same runs in the same order.
- rest_artifact_transfer: PUT (chunked, from a generator of 1 MiB pieces) and GET (read
  1 MiB at a time) of a 200 MiB blob through mlflow-artifacts/artifacts/...; MB/s each
  way from the median repeat; the ratio is the smaller of the two directions' ratios.
  The record also gives the upload rate the target needs and
  trackway_disk_write_fsync_mb_s: plain writes plus an fsync of the same size on the same
  disk, the ceiling of a durable upload (Trackway fsyncs before it answers; MLflow does not).
- rest_memory: RSS of each server's whole process tree (MLflow: the CLI, uvicorn and its
  workers, and the job runner with its huey consumers): idle (once the tree stops growing
  after start-up) and peak (sampled every 0.1 s during all the workloads above; each
  workload's record also has its own peak). USS is given too, since summed RSS counts
  shared pages once per process, and so is MLflow's uvicorn subtree alone (the job runner
  can be turned off with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false; it is on by default).
- rest_server_start: seconds from spawn to serving (MLflow: GET /health answers 200;
  Trackway: gRPC health SERVING and the HTTP port answering), reported only; it also says
  whether each database holds exactly the points the client logged.

Latencies are the request-to-last-byte times, without the client's JSON decoding, which
is the same work for both servers. "ratio" is always Trackway's advantage: throughput
over MLflow's, or MLflow's time or memory over Trackway's.

Sizes (environment): TRACKWAY_BENCH_REST_POINTS (100000) and _MLFLOW_POINTS (10000);
_WRITER_POINTS (20000) and _MLFLOW_WRITER_POINTS (2000) per writer; _RUNS (5000) and
_REDUCED_RUNS (2000); _SEARCH_CALLS (10); _HISTORY_POINTS (100000); _ARTIFACT_MIB (200);
TRACKWAY_BENCH_MLFLOW_WORKERS (4), TRACKWAY_BENCH_MLFLOW_START_TIMEOUT_S (120).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.context import Context
from bench.log import progress
from bench.results import Record, median, record, rounded
from bench.server import MIB, RssSampler, free_port, trackway_command, tree_rss, wait_serving


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(f"TRACKWAY_BENCH_{name}", str(default)))


TRACKWAY_POINTS = _env_int("REST_POINTS", 100_000)
MLFLOW_POINTS = _env_int("REST_MLFLOW_POINTS", 10_000)
WRITERS = 8
TRACKWAY_WRITER_POINTS = _env_int("REST_WRITER_POINTS", 20_000)
MLFLOW_WRITER_POINTS = _env_int("REST_MLFLOW_WRITER_POINTS", 2_000)
SEARCH_RUNS = _env_int("REST_RUNS", 5_000)
REDUCED_RUNS = _env_int("REST_REDUCED_RUNS", 2_000)
SEED_BUDGET_S = _env_int("REST_SEED_BUDGET_S", 240)
SEED_PROBE_RUNS = 250
SEED_THREADS = 8
SEARCH_CALLS = _env_int("REST_SEARCH_CALLS", 10)
HISTORY_POINTS = _env_int("REST_HISTORY_POINTS", 100_000)
HISTORY_SEED_S = _env_int("REST_HISTORY_SEED_S", 60)
HISTORY_PAGE = 25_000
ARTIFACT_MIB = _env_int("REST_ARTIFACT_MIB", 200)
MLFLOW_WORKERS = _env_int("MLFLOW_WORKERS", 4)
MLFLOW_START_TIMEOUT_S = _env_int("MLFLOW_START_TIMEOUT_S", 120)

BATCH = 1_000
KEYS = 10
BASE_TS = 1_700_000_000_000
SAMPLE_INTERVAL_S = 0.1
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"
SEARCH_ORDER = "metrics.m2 DESC"
SEARCH_MAX = 100

INGEST_TARGET = 25.0
SEARCH_TARGET = 10.0
HISTORY_TARGET = 10.0
ARTIFACT_TARGET = 3.0
MEMORY_TARGET = 10.0

API = "/api/2.0/mlflow"
JSON_HEADERS = {"Content-Type": "application/json"}


class RestError(RuntimeError):
    """A non-2xx answer, with the request and the response, to report incompatibilities."""

    def __init__(self, method: str, path: str, body: bytes | None, status: int, reply: bytes):
        sent = "" if body is None else " " + body[:300].decode(errors="replace")
        super().__init__(
            f"{method} {path}{sent} -> HTTP {status}: {reply[:500].decode(errors='replace')}"
        )


class Http:
    """One keep-alive connection to a server's HTTP port."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        try:
            reply = self._send(method, path, body)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection (uvicorn does after 5 s):
            # reconnect once, as HTTP clients do.
            self.conn.close()
            reply = self._send(method, path, body)
        data = reply.read()
        if not 200 <= reply.status < 300:
            raise RestError(method, path, body, reply.status, data)
        return data

    def _send(self, method: str, path: str, body: bytes | None) -> http.client.HTTPResponse:
        self.conn.request(method, path, body=body, headers=JSON_HEADERS if body else {})
        return self.conn.getresponse()

    def json(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        data = self.call(method, path, body)
        return json.loads(data) if data.strip() else {}

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------------- servers


@dataclass
class Served:
    """A running server (its CLI process and all its descendants) and what it did."""

    name: str
    root: Path
    db_path: Path
    proc: subprocess.Popen[bytes]
    http_port: int
    log_path: Path
    start_s: float = 0.0
    logged_points: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def http(self) -> Http:
        return Http(self.http_port)

    def add_points(self, n: int) -> None:
        with self.lock:
            self.logged_points += n

    def log_tail(self, size: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        return ""

    def stop(self) -> None:
        """SIGTERM to the CLI process, then to any descendant it left, each by its pid."""
        try:
            family = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                progress(f"rest: {self.name} ignored SIGTERM for 30 s; killing it")
                self.proc.kill()
                self.proc.wait(10)
        _, alive = psutil.wait_procs(family, timeout=10)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.terminate()
        _, alive = psutil.wait_procs(alive, timeout=5)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _wait_http(served: Served, path: str, timeout: float, want_ok: bool) -> None:
    """Polls GET `path` until it answers (200 if want_ok, any status otherwise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            raise RuntimeError(
                f"{served.name} exited with code {served.proc.returncode}:\n{served.log_tail()}"
            )
        conn = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=2)
        try:
            conn.request("GET", path)
            status = conn.getresponse().status
            if status == 200 or not want_ok:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.02)
    raise TimeoutError(f"{served.name}: GET {path} did not answer in {timeout} s")


def start_mlflow(root: Path) -> Served:
    root.mkdir(parents=True)
    port = free_port()
    db_path = root / "mlflow.db"
    args = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{db_path}",
        "--artifacts-destination",
        str(root / "mlruns"),
        "--workers",
        str(MLFLOW_WORKERS),
    ]
    log_path = root / "mlflow.log"
    started = time.perf_counter()
    served = Served("mlflow", root, db_path, _spawn(args, log_path), port, log_path)
    try:
        _wait_http(served, "/health", MLFLOW_START_TIMEOUT_S, want_ok=True)
    except BaseException:
        served.stop()
        raise
    served.start_s = time.perf_counter() - started
    return served


def start_trackway(root: Path) -> Served:
    root.mkdir(parents=True)
    grpc_port, http_port = free_port(), free_port()
    db_path = root / "trackway.db"
    args = [
        *trackway_command(),
        "server",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        "--backend-store-uri",
        f"sqlite:///{db_path}",
        "--artifacts-destination",
        (root / "artifacts").as_uri(),
        "--grace-seconds",
        "2",
        "--log-level",
        "WARNING",
    ]
    log_path = root / "trackway.log"
    started = time.perf_counter()
    served = Served("trackway", root, db_path, _spawn(args, log_path), http_port, log_path)
    try:
        wait_serving(grpc_port, served.proc)
        # Trackway's HTTP port has no /health: any answer means it is listening.
        _wait_http(served, f"{API}/experiments/get?experiment_id=0", 30, want_ok=False)
    except BaseException:
        served.stop()
        raise
    served.start_s = time.perf_counter() - started
    return served


def _idle_memory(pid: int) -> dict[str, Any]:
    """RSS and USS of the tree once its process count and RSS hold still (at most 30 s)."""
    deadline = time.monotonic() + 30
    last: tuple[int, int] = (-1, -1)
    steady = 0
    while time.monotonic() < deadline and steady < 3:
        time.sleep(0.5)
        now = (len(psutil.Process(pid).children(recursive=True)), tree_rss(pid))
        same = now[0] == last[0] and abs(now[1] - last[1]) <= 0.01 * max(last[1], 1)
        steady = steady + 1 if same else 0
        last = now
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    rss = uss = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            info = proc.memory_full_info()
            rss += info.rss
            uss += info.uss
    out: dict[str, Any] = {
        "idle_rss_mb": round(rss / MIB, 1),
        "idle_uss_mb": round(uss / MIB, 1),
        "processes": len(procs),
    }
    uvicorn = _uvicorn_pid(pid)
    if uvicorn is not None:
        out["idle_rss_uvicorn_mb"] = round(tree_rss(uvicorn) / MIB, 1)
        workers = psutil.Process(uvicorn).children()
        out["uvicorn_workers"] = sum(
            "resource_tracker" not in " ".join(w.cmdline()) for w in workers
        )
    return out


def _uvicorn_pid(pid: int) -> int | None:
    """MLflow's uvicorn process (its workers are its children); None for Trackway."""
    for child in psutil.Process(pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "uvicorn" in " ".join(child.cmdline()):
                return int(child.pid)
    return None


# ---------------------------------------------------------------------------- requests


def _metrics_body(run_id: str, first_step: int, seed: int, key: str | None = None) -> bytes:
    """A log-batch of BATCH metrics: KEYS keys x BATCH/KEYS steps (or BATCH steps of `key`)."""
    rng = random.Random(seed)
    metrics = []
    for j in range(BATCH):
        step = first_step + (j if key else j // KEYS)
        metrics.append(
            {
                "key": key or f"m{j % KEYS}",
                "value": rng.random(),
                "timestamp": BASE_TS + step,
                "step": step,
            }
        )
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def _series_bodies(run_id: str, points: int, seed: int, key: str | None = None) -> list[bytes]:
    per = BATCH if key else BATCH // KEYS
    return [_metrics_body(run_id, i * per, seed * 100_000 + i, key) for i in range(points // BATCH)]


def _experiment(client: Http, name: str) -> str:
    return str(client.json("POST", f"{API}/experiments/create", {"name": name})["experiment_id"])


def _run(client: Http, experiment_id: str, name: str | None = None) -> str:
    payload: dict[str, Any] = {"experiment_id": experiment_id, "start_time": BASE_TS}
    if name is not None:
        payload["run_name"] = name
    return str(client.json("POST", f"{API}/runs/create", payload)["run"]["info"]["run_id"])


def _post_all(served: Served, client: Http, bodies: list[bytes]) -> None:
    for body in bodies:
        client.call("POST", f"{API}/runs/log-batch", body)
    served.add_points(BATCH * len(bodies))


# ---------------------------------------------------------------------------- workloads


def _ingest(served: Served, experiment: str, points: int, repeats: int) -> dict[str, Any]:
    client = served.http()
    _post_all(served, client, _series_bodies(_run(client, experiment), BATCH, 0))  # warm-up
    seconds = []
    for i in range(repeats):
        bodies = _series_bodies(_run(client, experiment), points, i + 1)
        started = time.perf_counter()
        _post_all(served, client, bodies)
        seconds.append(time.perf_counter() - started)
        progress(f"rest_logbatch_ingest: {served.name} {i + 1}/{repeats}: {seconds[-1]:.3f} s")
    client.close()
    return {
        "points": points,
        "points_per_s": round(points / median(seconds)),
        "seconds_each": rounded(seconds),
    }


def _writers_once(served: Served, experiment: str, per_writer: int, seed: int) -> float:
    setup = served.http()
    jobs = [
        _series_bodies(_run(setup, experiment), per_writer, seed * 100 + w) for w in range(WRITERS)
    ]
    setup.close()
    clients = [served.http() for _ in range(WRITERS)]
    for client in clients:  # connect before the start
        client.conn.connect()
    barrier = threading.Barrier(WRITERS + 1)
    ends: list[float] = [0.0] * WRITERS
    errors: list[BaseException] = []

    def write(w: int) -> None:
        barrier.wait()
        try:
            _post_all(served, clients[w], jobs[w])
        except BaseException as exc:
            errors.append(exc)
        ends[w] = time.perf_counter()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    if errors:
        raise errors[0]
    return max(ends) - started


def _writers(served: Served, experiment: str, per_writer: int, repeats: int) -> dict[str, Any]:
    _writers_once(served, experiment, BATCH, 0)  # warm-up
    seconds = []
    for i in range(repeats):
        seconds.append(_writers_once(served, experiment, per_writer, i + 1))
        progress(f"rest_concurrent_writers: {served.name} {i + 1}/{repeats}: {seconds[-1]:.3f} s")
    total = WRITERS * per_writer
    return {
        "points": total,
        "points_per_s": round(total / median(seconds)),
        "seconds_each": rounded(seconds),
    }


def _history(served: Served, experiment: str, points: int, calls: int) -> dict[str, Any]:
    client = served.http()
    run_id = _run(client, experiment)
    started = time.perf_counter()
    _post_all(served, client, _series_bodies(run_id, points, 7, key="loss"))
    seed_s = time.perf_counter() - started
    base = f"{API}/metrics/get-history?" + urllib.parse.urlencode(
        {"run_id": run_id, "metric_key": "loss", "max_results": HISTORY_PAGE}
    )
    seconds = []
    pages = 0
    for i in range(calls + 1):  # the first call warms up
        got, pages, token, spent = 0, 0, "", 0.0
        while True:
            path = base + ("&page_token=" + urllib.parse.quote(token) if token else "")
            t0 = time.perf_counter()
            data = client.call("GET", path)
            spent += time.perf_counter() - t0
            reply = json.loads(data)
            got += len(reply.get("metrics", []))
            pages += 1
            token = reply.get("next_page_token", "")
            if not token:
                break
            if pages > points // HISTORY_PAGE + 2:
                raise RuntimeError(f"{served.name}: get-history keeps paging ({pages} pages)")
        if got != points:
            raise RuntimeError(f"{served.name}: get-history returned {got} of {points} points")
        if i:
            seconds.append(spent)
    client.close()
    return {
        "points": points,
        "median_ms": round(median(seconds) * 1e3, 1),
        "us_per_point": round(median(seconds) * 1e6 / points, 3),
        "pages": pages,
        "seed_s": round(seed_s, 1),
        "ms_each": [round(s * 1e3, 1) for s in seconds],
    }


def _search_run_body(run_id: str, i: int) -> bytes:
    rng = random.Random(i)
    return json.dumps(
        {
            "run_id": run_id,
            "params": [{"key": f"p{k}", "value": f"v{rng.randrange(5)}"} for k in range(5)],
            "metrics": [
                {"key": f"m{k}", "value": rng.random(), "timestamp": BASE_TS, "step": 0}
                for k in range(5)
            ],
            "tags": [{"key": f"t{k}", "value": f"tag{rng.randrange(10)}"} for k in range(3)],
        }
    ).encode()


def _seed_runs(
    served: Served, experiment: str, runs: int, budget_s: float | None
) -> tuple[int, float]:
    """Creates `runs` runs (run_name r00000...) with 8 threads; returns (runs, seconds).

    With a budget, the rate of the first SEED_PROBE_RUNS runs decides whether `runs` fits
    in it; if not, seeding stops at REDUCED_RUNS instead.
    """
    limit = [runs]
    counter = itertools.count()
    lock = threading.Lock()
    done = [0]
    errors: list[BaseException] = []
    started = time.perf_counter()

    def seed() -> None:
        client = served.http()
        try:
            while True:
                with lock:
                    i = next(counter)
                    if i >= limit[0]:
                        return
                run_id = _run(client, experiment, f"r{i:05d}")
                client.call("POST", f"{API}/runs/log-batch", _search_run_body(run_id, i))
                served.add_points(5)
                with lock:
                    done[0] += 1
                    if budget_s is not None and done[0] == SEED_PROBE_RUNS:
                        elapsed = time.perf_counter() - started
                        projected = elapsed * limit[0] / SEED_PROBE_RUNS
                        if projected > budget_s and limit[0] > REDUCED_RUNS:
                            progress(
                                f"rest_search_runs: {served.name} seeding projected at "
                                f"{projected:.0f} s > {budget_s} s: {REDUCED_RUNS} runs instead"
                            )
                            limit[0] = REDUCED_RUNS
                    if done[0] % 1000 == 0:
                        progress(f"rest_search_runs: {served.name} seeded {done[0]} runs")
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=seed) for _ in range(SEED_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return done[0], time.perf_counter() - started


def _search(served: Served, runs: int, calls: int, budget_s: float | None = None) -> dict[str, Any]:
    client = served.http()
    experiment = _experiment(client, "search")
    seeded, seed_s = _seed_runs(served, experiment, runs, budget_s)
    progress(f"rest_search_runs: {served.name} seeded {seeded} runs in {seed_s:.1f} s")
    body = json.dumps(
        {
            "experiment_ids": [experiment],
            "filter": SEARCH_FILTER,
            "order_by": [SEARCH_ORDER],
            "max_results": SEARCH_MAX,
        }
    ).encode()
    seconds = []
    data = b""
    for i in range(calls + 1):  # the first call warms up
        t0 = time.perf_counter()
        data = client.call("POST", f"{API}/runs/search", body)
        if i:
            seconds.append(time.perf_counter() - t0)
    client.close()
    found = json.loads(data).get("runs", [])
    return {
        "runs": seeded,
        "seed_s": round(seed_s, 1),
        "median_ms": round(median(seconds) * 1e3, 2),
        "ms_each": [round(s * 1e3, 2) for s in seconds],
        "returned": len(found),
        "names": [r["info"].get("run_name", "") for r in found],
    }


def _upload(size: int) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for _ in range(size // MIB):
        yield block


def _artifacts(served: Served, experiment: str, size: int, repeats: int) -> dict[str, Any]:
    client = served.http()
    run_id = _run(client, experiment)
    path = f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run_id}/artifacts/blob.bin"
    ups, downs = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        client.conn.request(
            "PUT",
            path,
            body=_upload(size),
            headers={"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        reply = client.conn.getresponse()
        answer = reply.read()
        ups.append(time.perf_counter() - t0)
        if reply.status != 200:
            raise RestError("PUT", path, b"<chunked body>", reply.status, answer)
        t0 = time.perf_counter()
        client.conn.request("GET", path)
        reply = client.conn.getresponse()
        got = 0
        while piece := reply.read(MIB):
            got += len(piece)
        downs.append(time.perf_counter() - t0)
        if reply.status != 200 or got != size:
            raise RuntimeError(f"{served.name}: GET {path} -> {reply.status}, {got} bytes")
        progress(
            f"rest_artifact_transfer: {served.name} {i + 1}/{repeats}: "
            f"up {ups[-1]:.2f} s, down {downs[-1]:.2f} s"
        )
    client.close()
    mb = size / 1e6
    return {
        "mib": size // MIB,
        "upload_mb_s": round(mb / median(ups), 1),
        "download_mb_s": round(mb / median(downs), 1),
        "upload_seconds_each": rounded(ups),
        "download_seconds_each": rounded(downs),
    }


# ---------------------------------------------------------------------------- phases


@dataclass
class Sizes:
    points: int
    writer_points: int
    runs: int
    history_points: int


def _attempt(
    results: dict[str, Any],
    name: str,
    sampler: RssSampler,
    job: Callable[[], dict[str, Any]],
) -> None:
    """Runs one workload on one server, with the peak RSS of its tree during it; an error
    is kept, for the record, not raised."""
    results["peak_rss_mb"] = max(results.get("peak_rss_mb", 0.0), sampler.peak_mb)
    sampler.peak = tree_rss(sampler.pid)  # the sampler's thread only ever raises it
    try:
        results[name] = job()
    except Exception as exc:
        progress(f"{name}: FAILED: {exc}")
        results[name] = {"error": str(exc)}
    results[name]["peak_rss_mb"] = sampler.peak_mb
    results["peak_rss_mb"] = max(results["peak_rss_mb"], sampler.peak_mb)


def _db_points(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])
    finally:
        conn.close()


def _phase(
    ctx: Context,
    served: Served,
    sizes: Callable[[dict[str, Any]], Sizes],
    seed_budget_s: float | None,
) -> dict[str, Any]:
    """All workloads on one server. `sizes` sees the results so far (MLflow's rates)."""
    results: dict[str, Any] = {"start_s": round(served.start_s, 2)}
    progress(f"rest: {served.name} serving after {served.start_s:.2f} s")
    results.update(_idle_memory(served.pid))
    uvicorn = _uvicorn_pid(served.pid)
    with (
        RssSampler(served.pid, SAMPLE_INTERVAL_S) as sampler,
        RssSampler(uvicorn or served.pid, SAMPLE_INTERVAL_S) as front,
    ):
        setup = served.http()
        experiment = _experiment(setup, "bench")
        setup.close()
        size = sizes(results)
        _attempt(
            results,
            "ingest",
            sampler,
            lambda: _ingest(served, experiment, size.points, ctx.reps(3)),
        )
        _attempt(
            results,
            "writers",
            sampler,
            lambda: _writers(served, experiment, size.writer_points, ctx.reps(3)),
        )
        size = sizes(results)
        _attempt(
            results,
            "history",
            sampler,
            lambda: _history(served, experiment, size.history_points, ctx.reps(5)),
        )
        _attempt(
            results,
            "search",
            sampler,
            lambda: _search(served, size.runs, SEARCH_CALLS, seed_budget_s),
        )
        _attempt(
            results,
            "artifacts",
            sampler,
            lambda: _artifacts(served, experiment, ARTIFACT_MIB * MIB, ctx.reps(3)),
        )
    results["peak_rss_mb"] = max(results["peak_rss_mb"], sampler.peak_mb)
    if uvicorn is not None:
        results["peak_rss_uvicorn_mb"] = front.peak_mb
    results["stored_points"] = _db_points(served.db_path)
    results["logged_points"] = served.logged_points
    return results


def _mlflow_sizes(results: dict[str, Any]) -> Sizes:
    history = HISTORY_POINTS
    rate = results.get("ingest", {}).get("points_per_s")
    if rate and HISTORY_POINTS / rate > HISTORY_SEED_S:
        history = max(BATCH, int(rate * HISTORY_SEED_S) // BATCH * BATCH)
    return Sizes(MLFLOW_POINTS, MLFLOW_WRITER_POINTS, SEARCH_RUNS, history)


# ---------------------------------------------------------------------------- records


def _pair(tw: dict[str, Any], ml: dict[str, Any]) -> dict[str, Any]:
    """Both servers' fields, prefixed; an error on either side ends up in the record."""
    out: dict[str, Any] = {}
    for side, fields in (("trackway", tw), ("mlflow", ml)):
        for key, value in fields.items():
            out[f"{side}_{key}"] = value
    return out


def _compare(
    name: str,
    results: tuple[dict[str, Any], dict[str, Any]],
    part: str,
    ratio: Callable[[dict[str, Any], dict[str, Any]], float],
    target: float,
    target_text: str,
    **extra: Any,
) -> Record:
    tw, ml = results[0].get(part, {}), results[1].get(part, {})
    fields = _pair(tw, ml)
    if "error" in tw or "error" in ml or not tw or not ml:
        return record(name, **fields, **extra, ratio=None, target=target_text, meets_target=False)
    value = ratio(tw, ml)
    return record(
        name,
        **fields,
        **extra,
        ratio=round(value, 2),
        target=target_text,
        meets_target=value >= target,
    )


def _records(tw: dict[str, Any], ml: dict[str, Any]) -> list[Record]:
    both = (tw, ml)
    out = [
        _compare(
            "rest_logbatch_ingest",
            both,
            "ingest",
            lambda t, m: t["points_per_s"] / m["points_per_s"],
            INGEST_TARGET,
            f">= {INGEST_TARGET:.0f}x MLflow's points/s",
            batch_points=BATCH,
        ),
        _compare(
            "rest_concurrent_writers",
            both,
            "writers",
            lambda t, m: t["points_per_s"] / m["points_per_s"],
            0.0,
            "reported only (issue 5 sets no number)",
            writers=WRITERS,
            writer_kind="thread",
            batch_points=BATCH,
        ),
    ]
    tw_search, ml_search = tw.get("search", {}), ml.get("search", {})
    same = tw_search.get("names") == ml_search.get("names") if "names" in tw_search else None
    for side in (tw_search, ml_search):
        side.pop("names", None)
    out.append(
        _compare(
            "rest_search_runs",
            both,
            "search",
            lambda t, m: m["median_ms"] / t["median_ms"],
            SEARCH_TARGET,
            f">= {SEARCH_TARGET:.0f}x faster than MLflow (median)",
            reduced_runs=ml_search.get("runs", SEARCH_RUNS) < SEARCH_RUNS,
            seed_threads=SEED_THREADS,
            filter=SEARCH_FILTER,
            order_by=SEARCH_ORDER,
            max_results=SEARCH_MAX,
            calls=SEARCH_CALLS,
            same_results=same,
        )
    )
    ml_history = ml.get("history", {})
    out.append(
        _compare(
            "rest_metric_history",
            both,
            "history",
            lambda t, m: m["us_per_point"] / t["us_per_point"],
            HISTORY_TARGET,
            f">= {HISTORY_TARGET:.0f}x faster than MLflow (median time per point)",
            page_size=HISTORY_PAGE,
            mlflow_points_reduced=ml_history.get("points", HISTORY_POINTS) < HISTORY_POINTS,
        )
    )
    out.append(
        _compare(
            "rest_artifact_transfer",
            both,
            "artifacts",
            lambda t, m: min(
                t["upload_mb_s"] / m["upload_mb_s"], t["download_mb_s"] / m["download_mb_s"]
            ),
            ARTIFACT_TARGET,
            f">= {ARTIFACT_TARGET:.0f}x MLflow's MB/s each way",
            **_artifact_ratios(tw.get("artifacts", {}), ml.get("artifacts", {})),
        )
    )
    mem_keys = (
        "idle_rss_mb",
        "idle_uss_mb",
        "peak_rss_mb",
        "idle_rss_uvicorn_mb",
        "peak_rss_uvicorn_mb",
        "processes",
    )
    tw_mem = {k: tw[k] for k in mem_keys if k in tw}
    ml_mem = {k: ml[k] for k in mem_keys if k in ml}
    idle_ratio = ml_mem["idle_rss_mb"] / tw_mem["idle_rss_mb"]
    peak_ratio = ml_mem["peak_rss_mb"] / tw_mem["peak_rss_mb"]
    out.append(
        record(
            "rest_memory",
            **_pair(tw_mem, ml_mem),
            idle_ratio=round(idle_ratio, 2),
            ratio=round(peak_ratio, 2),
            sample_interval_s=SAMPLE_INTERVAL_S,
            target=f">= {MEMORY_TARGET:.0f}x less RSS than MLflow, idle and peak (ratio: peak)",
            meets_target=min(idle_ratio, peak_ratio) >= MEMORY_TARGET,
        )
    )
    out.append(
        record(
            "rest_server_start",
            trackway_start_s=tw["start_s"],
            mlflow_start_s=ml["start_s"],
            mlflow_workers=MLFLOW_WORKERS,
            mlflow_uvicorn_workers_seen=ml.get("uvicorn_workers"),
            trackway_points_stored_ok=tw["stored_points"] == tw["logged_points"],
            mlflow_points_stored_ok=ml["stored_points"] == ml["logged_points"],
            ratio=round(ml["start_s"] / tw["start_s"], 2),
            target="reported only",
            meets_target=True,
        )
    )
    return out


def _artifact_ratios(tw: dict[str, Any], ml: dict[str, Any]) -> dict[str, Any]:
    if "upload_mb_s" not in tw or "upload_mb_s" not in ml:
        return {}
    return {
        "ratio_upload": round(tw["upload_mb_s"] / ml["upload_mb_s"], 2),
        "ratio_download": round(tw["download_mb_s"] / ml["download_mb_s"], 2),
        "upload_needed_mb_s": round(ARTIFACT_TARGET * ml["upload_mb_s"], 1),
    }


def _disk_ceiling(folder: Path, size: int, repeats: int) -> float:
    """MB/s of writing `size` bytes to a new file in `folder` and fsyncing it: the limit
    of any durable upload on this disk, before HTTP and hashing. MLflow's server does
    not fsync; Trackway acknowledges an upload only once it is on disk."""
    block = os.urandom(MIB)
    seconds = []
    for i in range(repeats):
        path = folder / f"disk-ceiling-{i}.bin"
        started = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(size // MIB):
                os.write(fd, block)
            os.fsync(fd)
        finally:
            os.close(fd)
        seconds.append(time.perf_counter() - started)
        path.unlink()
    return round(size / 1e6 / median(seconds), 1)


def rest_vs_mlflow(ctx: Context) -> list[Record]:
    root = ctx.tmp / "rest"
    progress("rest: starting mlflow server")
    mlflow = start_mlflow(root / "mlflow")
    try:
        ml = _phase(ctx, mlflow, _mlflow_sizes, SEED_BUDGET_S)
    finally:
        mlflow.stop()
    runs = ml.get("search", {}).get("runs", SEARCH_RUNS)
    progress("rest: starting trackway server")
    trackway = start_trackway(root / "trackway")
    try:
        tw = _phase(
            ctx,
            trackway,
            lambda _: Sizes(TRACKWAY_POINTS, TRACKWAY_WRITER_POINTS, runs, HISTORY_POINTS),
            None,
        )
    finally:
        trackway.stop()
    if "upload_mb_s" in tw.get("artifacts", {}):
        ceiling = _disk_ceiling(root / "trackway", ARTIFACT_MIB * MIB, ctx.reps(3))
        tw["artifacts"]["disk_write_fsync_mb_s"] = ceiling
    return _records(tw, ml)
