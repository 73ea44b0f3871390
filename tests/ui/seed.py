"""Data for the UI tests, written through the server's real APIs.

`seed_demo` writes a small, varied experiment over MLflow's REST API (the same door the
UI reads): runs with params, metric histories, tags, a Markdown note, a dataset, parent
and child runs, artifacts of every previewed kind, and a registered model whose version
links back to a run. `seed_many_runs` and `seed_long_series` write the big data sets of
the performance budgets over gRPC (unary batches and LogStream), which is much faster.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import requests

from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc

NOTE = """# Baseline

The **best** run so far; see [the docs](https://example.com/docs).

- lr warm-up for 5 epochs
- `batch_size` = 64
- [a bad link](javascript:window.__injected=true)

<script>window.__injected = true</script><img src=x onerror="window.__injected = true">
"""
CSV_TEXT = "epoch,loss,accuracy\n0,1.00,0.50\n1,0.60,0.71\n2,0.41,0.83\n"
YAML_TEXT = "model:\n  name: resnet\n  layers: 18\noptimizer: adam\n"


@dataclass
class Demo:
    experiment_id: str
    experiment_name: str
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id
    model_name: str = ""


class Rest:
    """MLflow's REST API 2.0 at `base` (http://host:port)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = requests.Session()

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        url = f"{self.base}/api/2.0/mlflow/{path}"
        if method == "GET":
            reply = self.http.get(url, params=body, timeout=30)
        else:
            reply = self.http.request(method, url, json=body or {}, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def upload(self, artifact_uri: str, path: str, data: bytes) -> None:
        where = artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
        url = f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{where}/{path}"
        self.http.put(url, data=data, timeout=30).raise_for_status()


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour with a diagonal stripe."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes((255, 255, 255) if abs(x - y) < 3 else rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def seed_demo(base: str, name: str = "demo") -> Demo:
    api = Rest(base)
    exp_id = api.call("POST", "experiments/create", {"name": name})["experiment_id"]
    demo = Demo(exp_id, name)
    now = int(time.time() * 1000) - 3_600_000
    configs = [
        ("baseline", "0.1", "4", "sgd", 1.0),
        ("wide", "0.05", "8", "adam", 0.8),
        ("deep", "0.01", "16", "adam", 0.6),
        ("tiny", "0.3", "2", "sgd", 1.4),
        ("tuned", "0.02", "8", "adamw", 0.5),
    ]
    for i, (run_name, lr, depth, optimizer, scale) in enumerate(configs):
        run = api.call(
            "POST",
            "runs/create",
            {
                "experiment_id": exp_id,
                "run_name": run_name,
                "start_time": now + i * 60_000,
                "user_id": "ada",
                "tags": [
                    {"key": "team", "value": "vision" if i % 2 else "speech"},
                    {"key": "mlflow.source.name", "value": "train.py"},
                    {"key": "mlflow.source.type", "value": "LOCAL"},
                    {"key": "mlflow.source.git.commit", "value": f"{i:x}" * 40},
                ],
            },
        )["run"]
        run_id = run["info"]["run_id"]
        demo.runs[run_name] = run_id
        points = [
            {
                "key": "loss",
                "value": scale / (1 + 0.05 * s) + 0.02 * ((s * 7919) % 13) / 13,
                "timestamp": now + i * 60_000 + s * 1000,
                "step": s,
            }
            for s in range(200)
        ] + [
            {
                "key": "accuracy",
                "value": 1 - 0.5 * scale / (1 + 0.04 * s),
                "timestamp": now + i * 60_000 + s * 1000,
                "step": s,
            }
            for s in range(200)
        ]
        for start in range(0, len(points), 1000):
            api.call(
                "POST",
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": points[start : start + 1000],
                    "params": [
                        {"key": "lr", "value": lr},
                        {"key": "depth", "value": depth},
                        {"key": "optimizer", "value": optimizer},
                    ]
                    if start == 0
                    else [],
                },
            )
        api.call(
            "POST",
            "runs/update",
            {"run_id": run_id, "status": "FINISHED", "end_time": now + i * 60_000 + 200_000},
        )

    base_id = demo.runs["baseline"]
    base_run = api.call("GET", "runs/get", {"run_id": base_id})["run"]
    api.call(
        "POST", "runs/set-tag", {"run_id": base_id, "key": "mlflow.note.content", "value": NOTE}
    )
    api.call(
        "POST",
        "runs/log-inputs",
        {
            "run_id": base_id,
            "datasets": [
                {
                    "tags": [{"key": "mlflow.data.context", "value": "training"}],
                    "dataset": {
                        "name": "cifar10",
                        "digest": "d41d8cd9",
                        "source_type": "local",
                        "source": '{"uri": "/data/cifar10"}',
                    },
                }
            ],
        },
    )
    uri = base_run["info"]["artifact_uri"]
    api.upload(uri, "notes.txt", b"hello from the baseline run\nsecond line\n")
    api.upload(uri, "config/params.json", json.dumps({"lr": 0.1, "layers": [64, 32]}).encode())
    api.upload(uri, "config/model.yaml", YAML_TEXT.encode())
    api.upload(uri, "metrics.csv", CSV_TEXT.encode())
    api.upload(uri, "plots/curve.png", png(64, 40, (37, 87, 214)))
    api.upload(uri, "page.html", b"<script>window.__injected = true</script>")

    for child in ("fold-1", "fold-2"):
        run = api.call(
            "POST",
            "runs/create",
            {
                "experiment_id": exp_id,
                "run_name": child,
                "start_time": now,
                "tags": [{"key": "mlflow.parentRunId", "value": base_id}],
            },
        )["run"]
        demo.runs[child] = run["info"]["run_id"]

    demo.model_name = f"{name}-classifier"
    api.call("POST", "registered-models/create", {"name": demo.model_name})
    version = api.call(
        "POST",
        "model-versions/create",
        {"name": demo.model_name, "source": f"{uri}/model", "run_id": base_id},
    )["model_version"]
    api.call(
        "POST",
        "registered-models/alias",
        {"name": demo.model_name, "alias": "champion", "version": version["version"]},
    )
    api.call(
        "POST",
        "model-versions/transition-stage",
        {"name": demo.model_name, "version": version["version"], "stage": "Production"},
    )
    return demo


def _stub(target: str) -> pb_grpc.TrackingServiceStub:
    channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)])
    return pb_grpc.TrackingServiceStub(channel)


def seed_many_runs(target: str, name: str, count: int) -> str:
    """`count` runs with 4 params, 3 metrics (latest values only) and 2 tags each."""
    stub = _stub(target)
    exp_id = stub.CreateExperiment(pb.CreateExperimentRequest(name=name)).experiment.experiment_id
    now = int(time.time() * 1000)

    def one(i: int) -> None:
        run = stub.CreateRun(
            pb.CreateRunRequest(
                experiment_id=exp_id,
                run_name=f"run-{i:05d}",
                start_time=now - i * 1000,
                tags=[run_pb2.RunTag(key="shard", value=str(i % 7))],
            )
        ).run
        stub.LogBatch(
            pb.LogBatchRequest(
                run_id=run.info.run_id,
                params=[
                    run_pb2.Param(key="lr", value=str(0.001 * (1 + i % 10))),
                    run_pb2.Param(key="depth", value=str(2 + i % 6)),
                    run_pb2.Param(key="optimizer", value=("adam", "sgd", "adamw")[i % 3]),
                    run_pb2.Param(key="seed", value=str(i)),
                ],
                metrics=[
                    metric_pb2.Metric(key="loss", value=1.0 / (1 + i % 97), timestamp=now, step=9),
                    metric_pb2.Metric(key="accuracy", value=(i % 89) / 89, timestamp=now, step=9),
                    metric_pb2.Metric(key="epoch_time", value=30 + i % 11, timestamp=now, step=9),
                ],
                tags=[run_pb2.RunTag(key="team", value=("vision", "speech")[i % 2])],
            )
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))
    return exp_id


def seed_long_series(target: str, name: str, runs: int, points: int) -> list[str]:
    """`runs` runs, each with a `loss` series of `points` points, sent over LogStream."""
    stub = _stub(target)
    exp_id = stub.CreateExperiment(pb.CreateExperimentRequest(name=name)).experiment.experiment_id
    run_ids = [
        stub.CreateRun(
            pb.CreateRunRequest(experiment_id=exp_id, run_name=f"long-{i:02d}")
        ).run.info.run_id
        for i in range(runs)
    ]
    chunk = 50_000
    steps = list(range(points))

    def batches():
        yield pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id=f"ui-seed-{name}"))
        seq = 0
        for r, run_id in enumerate(run_ids):
            for start in range(0, points, chunk):
                seq += 1
                part = steps[start : start + chunk]
                yield pb.LogStreamRequest(
                    batch=pb.LogStreamBatch(
                        seq=seq,
                        run_id=run_id,
                        metrics=[
                            metric_pb2.MetricColumns(
                                key="loss",
                                steps=part,
                                timestamps=[1_700_000_000_000 + s * 100 for s in part],
                                values=[
                                    (1 + r * 0.02) / (1 + s / 5000)
                                    + ((s * 2654435761) % 1000) / 20000
                                    for s in part
                                ],
                            )
                        ],
                    )
                )

    expected = runs * ((points + chunk - 1) // chunk)
    acked = 0
    for reply in stub.LogStream(batches()):
        if reply.WhichOneof("kind") == "ack":
            acked = reply.ack.seq
    if acked != expected:
        raise RuntimeError(f"LogStream acknowledged {acked} of {expected} batches")
    return run_ids
