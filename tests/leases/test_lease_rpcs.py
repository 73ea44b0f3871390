"""Leases over the wire: CreateRun's lease_seconds, HeartbeatRun over gRPC and HTTP/JSON,
and the server's own sweep thread failing silent runs."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import grpc
import pytest
import requests

from trackway.config import ServerConfig
from trackway.gen.tracking.v1 import run_pb2 as rpb
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub
from trackway.server.app import RunningServer, create_server

SWEEP_SECONDS = 0.2
REASON_TAG = "trackway.failure_reason"

for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))


@pytest.fixture
def leasing_server(db_url: str, artifact_root: str) -> Iterator[RunningServer]:
    """A server that sweeps expired leases five times a second, with its HTTP port on."""
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=db_url,
            artifacts_destination=artifact_root,
            threads=16,
            run_lease_sweep_seconds=SWEEP_SECONDS,
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture
def lease_stub(leasing_server: RunningServer) -> Iterator[TrackingServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{leasing_server.port}") as channel:
        yield TrackingServiceStub(channel)


def _new_run(stub: TrackingServiceStub, lease_seconds: int) -> str:
    exp = stub.CreateExperiment(pb.CreateExperimentRequest(name=f"e-{time.monotonic_ns()}"))
    return str(
        stub.CreateRun(
            pb.CreateRunRequest(
                experiment_id=exp.experiment.experiment_id, lease_seconds=lease_seconds
            )
        ).run.info.run_id
    )


def _status(stub: TrackingServiceStub, run_id: str) -> tuple[int, dict[str, str]]:
    run = stub.GetRun(pb.GetRunRequest(run_id=run_id)).run
    return run.info.status, {t.key: t.value for t in run.data.tags}


def _wait_for_status(
    stub: TrackingServiceStub, run_id: str, status: int, within: float
) -> dict[str, str]:
    deadline = time.monotonic() + within
    while True:
        found, tags = _status(stub, run_id)
        if found == status:
            return tags
        assert time.monotonic() < deadline, f"run {run_id} is still {found}"
        time.sleep(0.05)


def test_the_server_fails_a_silent_run_within_lease_plus_sweep(
    lease_stub: TrackingServiceStub,
) -> None:
    started = time.monotonic()
    run_id = _new_run(lease_stub, lease_seconds=1)
    plain = _new_run(lease_stub, lease_seconds=0)
    tags = _wait_for_status(lease_stub, run_id, rpb.RUN_STATUS_FAILED, within=1 + 5.0)
    assert time.monotonic() - started >= 1.0
    assert tags[REASON_TAG].startswith("lease expired: no heartbeat since ")
    run = lease_stub.GetRun(pb.GetRunRequest(run_id=run_id)).run
    assert run.info.end_time >= run.info.start_time > 0
    assert _status(lease_stub, plain)[0] == rpb.RUN_STATUS_RUNNING


def test_heartbeats_over_grpc_keep_the_run_running(lease_stub: TrackingServiceStub) -> None:
    run_id = _new_run(lease_stub, lease_seconds=1)
    last = 0
    for _ in range(10):
        reply = lease_stub.HeartbeatRun(pb.HeartbeatRunRequest(run_id=run_id))
        assert reply.lease_expire_time > last
        last = reply.lease_expire_time
        time.sleep(0.25)
    assert _status(lease_stub, run_id)[0] == rpb.RUN_STATUS_RUNNING
    lease_stub.UpdateRun(pb.UpdateRunRequest(run_id=run_id, status=rpb.RUN_STATUS_FINISHED))
    time.sleep(1.0 + 2 * SWEEP_SECONDS)
    status, tags = _status(lease_stub, run_id)
    assert status == rpb.RUN_STATUS_FINISHED and REASON_TAG not in tags
    with pytest.raises(grpc.RpcError) as err:
        lease_stub.HeartbeatRun(pb.HeartbeatRunRequest(run_id=run_id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "FINISHED" in (err.value.details() or "")


def test_heartbeat_over_http_json(
    leasing_server: RunningServer, lease_stub: TrackingServiceStub
) -> None:
    base = f"http://127.0.0.1:{leasing_server.http_port}/v1"
    exp = requests.post(f"{base}/experiments", json={"name": "http-leases"}, timeout=30)
    assert exp.status_code == 200, exp.text
    created = requests.post(
        f"{base}/runs",
        json={"experimentId": exp.json()["experiment"]["experimentId"], "leaseSeconds": 30},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    run_id = created.json()["run"]["info"]["runId"]
    before = time.time() * 1000
    reply = requests.post(f"{base}/runs/{run_id}:heartbeat", json={"leaseSeconds": 5}, timeout=30)
    assert reply.status_code == 200, reply.text
    expires = int(reply.json()["leaseExpireTime"])  # int64: a JSON string
    assert before + 4_000 <= expires <= time.time() * 1000 + 5_000
    empty = requests.post(f"{base}/runs/{run_id}:heartbeat", timeout=30)  # keeps 5 s
    assert empty.status_code == 200, empty.text
    assert int(empty.json()["leaseExpireTime"]) >= expires
    bad = requests.post(f"{base}/runs/{run_id}:heartbeat", json={"leaseSeconds": -3}, timeout=30)
    assert bad.status_code == 400, bad.text
    assert "lease_seconds" in bad.text
    missing = requests.post(f"{base}/runs/{'0' * 32}:heartbeat", json={}, timeout=30)
    assert missing.status_code == 404, missing.text
    lease_stub.UpdateRun(pb.UpdateRunRequest(run_id=run_id, status=rpb.RUN_STATUS_KILLED))
    refused = requests.post(f"{base}/runs/{run_id}:heartbeat", json={}, timeout=30)
    assert refused.status_code == 400, refused.text
    assert refused.json()["details"][0]["reason"] == "INVALID_STATE"


def test_create_run_refuses_a_lease_out_of_range(lease_stub: TrackingServiceStub) -> None:
    exp = lease_stub.CreateExperiment(pb.CreateExperimentRequest(name="bad-leases"))
    for bad in (-1, 86_401):
        with pytest.raises(grpc.RpcError) as err:
            lease_stub.CreateRun(
                pb.CreateRunRequest(experiment_id=exp.experiment.experiment_id, lease_seconds=bad)
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "lease_seconds" in (err.value.details() or "")
