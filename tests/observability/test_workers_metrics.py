"""`--workers 2` on PostgreSQL: whichever worker answers a scrape, /metrics reports the
calls that both served (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import grpc
import pytest

from tests.observability.scrape import Scrape
from tests.support.procs import ServerProcess
from trackway.gen.tracking.v1 import metric_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc

CALLS = 20


def _scrape_fresh(http_url: str) -> Scrape:
    # A new connection per scrape: the kernel may hand it to either worker.
    request = urllib.request.Request(f"{http_url}/metrics", headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return Scrape(reply.read().decode(), reply.headers["content-type"])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_scrape_sums_every_worker(db_url: str, artifact_root: str, tmp_path: Path) -> None:
    server = ServerProcess(
        db_url, artifact_root, tmp_path / "server.log", extra_args=["--workers", "2"]
    )
    try:
        for i in range(CALLS):
            # A channel per call, so that the calls spread over both workers.
            with grpc.insecure_channel(server.target) as channel:
                stub = tpb_grpc.TrackingServiceStub(channel)
                exp = stub.CreateExperiment(tpb.CreateExperimentRequest(name=f"w{i}")).experiment
                run = stub.CreateRun(tpb.CreateRunRequest(experiment_id=exp.experiment_id)).run
                points = [metric_pb2.Metric(key="m", value=1.0, step=s) for s in range(10)]
                stub.LogBatch(tpb.LogBatchRequest(run_id=run.info.run_id, metrics=points))
        for _ in range(6):
            found = _scrape_fresh(server.http_url)
            started = found.value("grpc_server_started_total", grpc_method="CreateExperiment")
            assert started == CALLS
            ok = found.value("grpc_server_handled_total", grpc_method="LogBatch", grpc_code="OK")
            assert ok == CALLS
            assert found.value("trackway_points_ingested_total") == CALLS * 10
            assert found.value("trackway_grpc_server_in_flight") == 0
            assert found.has("trackway_db_pool_size")  # the answering worker's own pool
    finally:
        assert server.terminate() == 0
        server.close()
