"""`trackway server --log-format json`: every log line written for a request carries its
request id (the client's, or one the server made and returned), and each request has one
access line with its method, code, duration and id."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from tests.support.procs import ServerProcess
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc

SERVICE = "/trackway.tracking.v1.TrackingService"


def _id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _access(lines: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if line["logger"] == "trackway.access" and line.get("request_id") == request_id
    ]


@pytest.mark.slow
def test_json_log_lines_carry_the_request_id(tmp_path: Path) -> None:
    grpc_read, grpc_missing, http_read, native_read, grpc_broken, http_broken = (
        _id("grpc"),
        _id("missing"),
        _id("http"),
        _id("native"),
        _id("grpc-broken"),
        _id("http-broken"),
    )
    log_path = tmp_path / "server.log"
    db_path = tmp_path / "trackway.db"
    server = ServerProcess(
        f"sqlite:///{db_path}",
        (tmp_path / "artifacts").as_uri(),
        log_path,
        extra_args=["--log-format", "json"],
    )
    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = tpb_grpc.TrackingServiceStub(channel)
            exp_id = stub.CreateExperiment(
                tpb.CreateExperimentRequest(name="logged")
            ).experiment.experiment_id
            request = tpb.GetExperimentRequest(experiment_id=exp_id)
            _, call = stub.GetExperiment.with_call(request, metadata=[("x-request-id", grpc_read)])
            assert ("x-request-id", grpc_read) in list(call.trailing_metadata())
            with pytest.raises(grpc.RpcError) as err:
                stub.GetExperiment(
                    tpb.GetExperimentRequest(experiment_id="987654"),
                    metadata=[("x-request-id", grpc_missing)],
                )
            assert ("x-request-id", grpc_missing) in list(err.value.trailing_metadata())
            _, call = stub.GetExperiment.with_call(request)
            made = dict(call.trailing_metadata())["x-request-id"]
        reply = requests.get(
            f"{server.http_url}/api/2.0/mlflow/experiments/get",
            params={"experiment_id": exp_id},
            headers={"x-request-id": http_read},
            timeout=10,
        )
        assert reply.ok and reply.headers["x-request-id"] == http_read
        reply = requests.get(
            f"{server.http_url}/v1/experiments/{exp_id}",
            headers={"x-request-id": native_read},
            timeout=10,
        )
        assert reply.ok and reply.headers["x-request-id"] == native_read

        # A broken database makes the error paths log a warning while they answer: lines
        # written by code that was never handed the id.
        with sqlite3.connect(db_path) as db:
            db.execute("DROP TABLE experiment_tags")
            db.execute("DROP TABLE experiments")
        with grpc.insecure_channel(server.target) as channel:
            stub = tpb_grpc.TrackingServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetExperiment(request, metadata=[("x-request-id", grpc_broken)])
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        reply = requests.get(
            f"{server.http_url}/api/2.0/mlflow/experiments/get",
            params={"experiment_id": exp_id},
            headers={"x-request-id": http_broken},
            timeout=10,
        )
        assert reply.status_code == 503
    finally:
        assert server.terminate() == 0
        server.close()

    lines = _lines(log_path)
    (access,) = _access(lines, grpc_read)
    assert access["protocol"] == "grpc"
    assert access["method"] == f"{SERVICE}/GetExperiment"
    assert access["code"] == "OK"
    assert access["level"] == "INFO"
    assert isinstance(access["duration_ms"], float)
    (access,) = _access(lines, grpc_missing)
    assert access["code"] == "NOT_FOUND"
    (access,) = _access(lines, made)
    assert access["method"] == f"{SERVICE}/GetExperiment"

    (access,) = _access(lines, http_read)
    assert (access["protocol"], access["method"], access["status"]) == ("http", "GET", 200)
    assert access["path"] == "/api/2.0/mlflow/experiments/get"
    # /v1/ answers through the gRPC port: one access line on each side, one id.
    sides = {line["protocol"] for line in _access(lines, native_read)}
    assert sides == {"http", "grpc"}
    for request_id, logger in (
        (grpc_broken, "trackway.server.errors"),
        (http_broken, "trackway.rest.errors"),
    ):
        (warning,) = [line for line in lines if line["logger"] == logger]
        assert warning["level"] == "WARNING"
        assert warning["message"].startswith("database unavailable")
        assert warning["request_id"] == request_id
    assert _access(lines, grpc_broken)[0]["code"] == "UNAVAILABLE"
    assert _access(lines, http_broken)[0]["status"] == 503
    # Lines outside any request carry no id.
    assert any(
        "request_id" not in line for line in lines if line["logger"] == "trackway.server.app"
    )
