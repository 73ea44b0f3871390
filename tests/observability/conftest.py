"""A real server with its HTTP port on, for scraping /metrics after real calls."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from trackway.config import ServerConfig
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc
from trackway.server.app import RunningServer, create_server


@pytest.fixture
def web_server(db_url: str, artifact_root: str) -> Iterator[RunningServer]:
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=db_url,
            artifacts_destination=artifact_root,
            threads=16,
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture
def http_url(web_server: RunningServer) -> str:
    return f"http://127.0.0.1:{web_server.http_port}"


@pytest.fixture
def web_channel(web_server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{web_server.port}") as channel:
        yield channel


@pytest.fixture
def tracking(web_channel: grpc.Channel) -> tpb_grpc.TrackingServiceStub:
    return tpb_grpc.TrackingServiceStub(web_channel)


@pytest.fixture
def run_id(tracking: tpb_grpc.TrackingServiceStub) -> str:
    exp = tracking.CreateExperiment(tpb.CreateExperimentRequest(name="observed")).experiment
    run = tracking.CreateRun(tpb.CreateRunRequest(experiment_id=exp.experiment_id)).run
    return str(run.info.run_id)
