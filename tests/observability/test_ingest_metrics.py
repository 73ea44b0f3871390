"""Ingest, artifact and database metrics against real writes: the points counted are the
points sent, through every door; the writer reports its commits; artifact bytes match
what went up and came down; the pool gauges read the real pool. SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import requests

from tests.observability.scrape import eventually, scrape
from tests.support.streams import StreamWriter, batch
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as apb_grpc
from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc
from trackway.server.app import RunningServer

MLFLOW = "/api/2.0/mlflow/"


def _points(key: str, count: int, first: int = 0) -> list[metric_pb2.Metric]:
    return [
        metric_pb2.Metric(key=key, value=float(s), timestamp=1000 + s, step=s)
        for s in range(first, first + count)
    ]


def test_points_ingested_equal_points_sent_through_every_door(
    tracking: tpb_grpc.TrackingServiceStub,
    web_channel: grpc.Channel,
    web_server: RunningServer,
    run_id: str,
    http_url: str,
) -> None:
    commits_before = web_server.store.writer.stats.commits
    sent = 0
    tracking.LogBatch(tpb.LogBatchRequest(run_id=run_id, metrics=_points("a", 250)))
    sent += 250
    tracking.LogMetric(
        tpb.LogMetricRequest(run_id=run_id, metric=metric_pb2.Metric(key="b", value=1.0))
    )
    sent += 1
    param = run_pb2.Param(key="lr", value="0.1")
    tracking.LogParam(tpb.LogParamRequest(run_id=run_id, param=param))  # no points
    writer = StreamWriter(web_channel, f"ingest-{run_id}")
    for seq in range(1, 4):
        writer.send(batch(run_id, seq, size=100))
    writer.finish()
    assert writer.last_acked == 3
    sent += 300
    # MLflow's REST API calls the service directly, not through gRPC.
    metrics = [{"key": "c", "value": 0.5, "timestamp": 1, "step": s} for s in range(7)]
    body: dict[str, Any] = {"run_id": run_id, "metrics": metrics}
    assert requests.post(f"{http_url}{MLFLOW}runs/log-batch", json=body, timeout=10).ok
    sent += 7
    # The native API over HTTP goes through gRPC.
    body = {"runId": run_id, "metrics": [{"key": "d", "value": 2.0, "step": 3}]}
    assert requests.post(f"{http_url}/v1/runs/{run_id}:logBatch", json=body, timeout=10).ok
    sent += 1

    found = scrape(http_url)
    assert found.value("trackway_points_ingested_total") == sent
    # One observation per write that carried points: LogBatch, LogMetric, 3 batches, 2 HTTP.
    assert found.value("trackway_ingest_batch_points_count") == 7
    assert found.value("trackway_ingest_batch_points_sum") == sent
    assert found.value("trackway_ingest_batch_points_bucket", le="100.0") == 6  # all but 250
    # The writer reports each commit once, with how many writes it carried.
    commits = web_server.store.writer.stats.commits
    assert found.value("trackway_writer_commit_seconds_count") == commits
    assert found.value("trackway_writer_group_size_count") == commits
    assert found.value("trackway_writer_group_size_sum") == web_server.store.writer.stats.jobs
    assert commits > commits_before


def test_database_pool_gauges_read_the_pool(http_url: str, web_server: RunningServer) -> None:
    found = scrape(http_url)
    pool = web_server.store.engine.pool
    assert found.value("trackway_db_pool_size") == pool.size()
    for name in ("checked_out", "checked_in", "overflow"):
        assert found.has(f"trackway_db_pool_{name}"), name
    # The writer holds its connection for good; a scrape holds none.
    assert found.value("trackway_db_pool_checked_out") >= 1


def test_artifact_bytes_match_uploads_and_downloads(
    web_channel: grpc.Channel, run_id: str, http_url: str
) -> None:
    art = apb_grpc.ArtifactServiceStub(web_channel)
    scope = artifact_pb2.ArtifactScope(run_id=run_id)
    data = os.urandom(3 * 1024 * 1024 + 17)

    def upload() -> Iterator[apb.UploadRequest]:
        yield apb.UploadRequest(header=apb.UploadHeader(scope=scope, path="model.bin"))
        for i in range(0, len(data), 256 * 1024):
            yield apb.UploadRequest(chunk=data[i : i + 256 * 1024])
        yield apb.UploadRequest(end=apb.UploadEnd())

    art.Upload(upload())
    request = apb.DownloadRequest(scope=scope, path="model.bin")
    assert b"".join(r.chunk for r in art.Download(request)) == data
    request = apb.DownloadRequest(scope=scope, path="model.bin", offset=1000, length=5000)
    assert len(b"".join(r.chunk for r in art.Download(request))) == 5000
    # And through MLflow's artifact proxy, which calls the service directly.
    info = requests.get(f"{http_url}{MLFLOW}runs/get", params={"run_id": run_id}, timeout=10)
    root = info.json()["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    url = f"{http_url}/api/2.0/mlflow-artifacts/artifacts/{root}/notes.txt"
    assert requests.put(url, data=b"x" * 1234, timeout=10).ok
    assert requests.get(url, timeout=10).content == b"x" * 1234

    found = eventually(
        http_url,
        lambda s: (
            s.value("trackway_artifact_bytes_total", direction="download")
            == len(data) + 5000 + 1234
        ),
    )
    assert found.value("trackway_artifact_bytes_total", direction="upload") == len(data) + 1234
    assert found.value("trackway_artifact_bytes_total", direction="download") == (
        len(data) + 5000 + 1234
    )
