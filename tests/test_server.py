"""The server as operators see it: reflection, health, grpcurl, limits and shutdown."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.support.procs import ServerProcess
from tests.support.required import unavailable
from trackway.gen.tracking.v1 import metric_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.server.app import RunningServer

TRACKING = "trackway.tracking.v1.TrackingService"
HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"


def test_reflection_lists_every_service(channel: grpc.Channel) -> None:
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {TRACKING, HEALTH, REFLECTION} <= services


def test_reflection_describes_the_tracking_api(channel: grpc.Channel) -> None:
    from google.protobuf.descriptor_pool import DescriptorPool

    pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(TRACKING)
    assert {"LogBatch", "LogStream", "SearchRuns", "GetMetricHistory"} <= {
        m.name for m in service.methods
    }


def test_health_is_serving_per_service_and_not_serving_on_shutdown(
    server: RunningServer, channel: grpc.Channel
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", TRACKING):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as err:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    server.health.enter_graceful_shutdown()
    reply = health.Check(health_pb2.HealthCheckRequest(service=TRACKING))
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_lists_every_service(server: RunningServer, channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    statuses = health.List(health_pb2.HealthListRequest()).statuses
    assert {"", TRACKING, HEALTH} <= set(statuses)
    assert {s.status for s in statuses.values()} == {health_pb2.HealthCheckResponse.SERVING}
    server.health.enter_graceful_shutdown()
    statuses = health.List(health_pb2.HealthListRequest()).statuses
    assert statuses[TRACKING].status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_oversized_message_is_refused_and_server_stays_healthy(
    stub: pb_grpc.TrackingServiceStub, channel: grpc.Channel
) -> None:
    huge = pb.LogBatchRequest(
        run_id="0" * 32, params=[metric_pb2.Metric(key="x") for _ in range(0)]
    )
    huge.tags.add(key="big", value="x" * (65 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as err:
        stub.LogBatch(huge)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _grpcurl() -> str:
    found = os.environ.get("TRACKWAY_GRPCURL") or shutil.which("grpcurl")
    if found:
        return found
    unavailable("grpcurl is not installed; `make test` installs it")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_grpcurl_lists_describes_calls_and_checks_health(server: RunningServer) -> None:
    grpcurl = _grpcurl()
    target = f"127.0.0.1:{server.port}"

    def run(*args: str) -> str:
        done = subprocess.run(
            [grpcurl, "-plaintext", *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = run(target, "list").split()
    assert {TRACKING, HEALTH, REFLECTION} <= set(listed)
    described = run(target, "describe", TRACKING)
    assert "rpc CreateExperiment" in described and "rpc LogStream" in described
    # The comments in proto/ reach operators: describe shows them.
    method = run(target, "describe", f"{TRACKING}.CreateExperiment")
    assert "Creates an experiment" in method
    message = run(target, "describe", "trackway.tracking.v1.CreateRunRequest")
    assert "A name is generated when missing" in message
    created = json.loads(
        run("-d", json.dumps({"name": "from-grpcurl"}), target, f"{TRACKING}/CreateExperiment")
    )
    assert created["experiment"]["name"] == "from-grpcurl"
    health = json.loads(run(target, "grpc.health.v1.Health/Check"))
    assert health["status"] == "SERVING"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_server_process_starts_quickly(db_url: str, artifact_root: str, tmp_path: Path) -> None:
    server = ServerProcess(db_url, artifact_root, tmp_path / "server.log")
    try:
        # The target is 2 s on an idle machine; the bound here leaves room for a busy one.
        assert server.startup_seconds < 10
        assert server.terminate() == 0
    finally:
        server.close()
