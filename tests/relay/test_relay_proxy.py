"""Everything else a relay passes through to central: reads, other services, streams,
errors with their details, metadata; health and reflection are the relay's own."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.relay.conftest import wait_drained
from tests.support.procs import free_port
from trackway.artifacts import client as artifacts
from trackway.client import TrackwayClient
from trackway.config import ServerConfig
from trackway.errors import NotFound, Unavailable
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.relay.server import RunningRelay, create_relay


def test_reads_and_other_services_pass_through(
    relay: RunningRelay, relay_client: TrackwayClient, tmp_path: Path
) -> None:
    experiment_id = relay_client.create_experiment("through-the-relay")
    assert relay_client.get_experiment_by_name("through-the-relay").experiment_id == experiment_id
    run_id = relay_client.create_run(experiment_id, run_name="r").info.run_id
    relay_client.log_metric(run_id, "loss", 0.5, step=3)
    wait_drained(relay.depth)
    found = relay_client.search_runs([experiment_id], "metrics.loss < 1")
    assert [r.info.run_id for r in found] == [run_id]

    model = relay_client.create_registered_model(f"m-{uuid.uuid4().hex[:6]}")
    assert relay_client.get_registered_model(model.name).name == model.name

    # Client streaming (upload) and server streaming (download) through the proxy.
    source = tmp_path / "weights.bin"
    source.write_bytes(bytes(range(256)) * 4096)
    where = artifacts.scope(run_id=run_id)
    artifacts.upload_file(relay_client.channel, where, source, "ckpt/weights.bin", progress=False)
    back = artifacts.download(
        relay_client.channel, where, "ckpt/weights.bin", tmp_path / "back.bin", progress=False
    )
    assert back.read_bytes() == source.read_bytes()


def test_central_errors_keep_their_code_and_details(relay_client: TrackwayClient) -> None:
    missing = uuid.uuid4().hex
    with pytest.raises(NotFound) as caught:
        relay_client.get_run(missing)
    # The ErrorInfo that central attached survives the relay.
    assert caught.value.metadata["reason"] == "RESOURCE_DOES_NOT_EXIST"
    assert missing in str(caught.value)


def test_metadata_reaches_central_and_its_trailers_come_back(relay: RunningRelay) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
        stub = pb_grpc.TrackingServiceStub(channel)
        _, call = stub.SearchExperiments.with_call(
            pb.SearchExperimentsRequest(), metadata=[("x-request-id", "relay-test-42")], timeout=10
        )
    # Central keeps a client's x-request-id and returns it in the trailers.
    assert ("x-request-id", "relay-test-42") in tuple(call.trailing_metadata())


def test_health_and_reflection_are_answered_by_the_relay(relay: RunningRelay) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "trackway.tracking.v1.TrackingService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {
        "trackway.tracking.v1.TrackingService",
        "trackway.artifacts.v1.ArtifactService",
        "trackway.registry.v1.ModelRegistryService",
        "grpc.health.v1.Health",
    } <= services


def test_without_central_writes_spool_and_reads_say_central_is_away(tmp_path: Path) -> None:
    """A relay whose central is not there: health SERVING, writes acknowledged at once,
    everything else UNAVAILABLE with a message that names central."""
    port = free_port()  # nothing listens there
    relay = create_relay(
        ServerConfig(
            grpc_port=0, forward_to=f"grpc://127.0.0.1:{port}", spool_dir=str(tmp_path / "s")
        )
    )
    try:
        with TrackwayClient(f"grpc://127.0.0.1:{relay.port}", retry_seconds=0) as client:
            run_id = uuid.uuid4().hex
            client.log_metric(run_id, "loss", 1.0)
            for step in range(10_000):
                client.logger.log_metric(run_id, "loss", 1.0, step=step)
            client.flush(timeout=10)
            assert relay.depth().points == 10_001
            with pytest.raises(Unavailable) as caught:
                client.get_run(run_id)
            assert f"central Trackway server grpc://127.0.0.1:{port}" in str(caught.value)
            with grpc.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
                # gRPC's own services are the relay's: a version it lacks is
                # UNIMPLEMENTED (grpcurl then falls back), not a failed pass-through.
                v1_reflection = channel.stream_stream(
                    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
                )
                with pytest.raises(grpc.RpcError) as unknown:
                    list(v1_reflection(iter([b""]), timeout=5))
                assert unknown.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        left = relay.stop(0.5)
    assert left.points == 10_001  # kept for the next start
