"""OpenTelemetry tracing with the real SDK and OTLP/HTTP exporter: spans for RPCs and HTTP
requests arrive at an OTLP receiver that the test runs on 127.0.0.1, decoded with
opentelemetry-proto. Without the packages, `--otlp-endpoint` fails with one line."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from trackway.config import ServerConfig
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc
from trackway.server.app import create_server

SERVICE = "trackway.tracking.v1.TrackingService"


class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], trace_pb2.Span]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                assert self.headers["Content-Type"] == "application/x-protobuf"
                export = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                receiver.paths.append(self.path)
                for resource_spans in export.resource_spans:
                    resource = _attributes(resource_spans.resource.attributes)
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend((resource, s) for s in scope_spans.spans)
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def named(self, name: str) -> list[tuple[trace_pb2.Span, dict[str, Any]]]:
        return [(s, _attributes(s.attributes)) for _, s in self.spans if s.name == name]

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _attributes(items: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        value: common_pb2.AnyValue = item.value
        found[item.key] = getattr(value, value.WhichOneof("value") or "string_value")
    return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_spans_arrive_for_rpcs_and_http_requests(
    receiver: Receiver, db_url: str, artifact_root: str
) -> None:
    server = create_server(
        ServerConfig(
            grpc_port=0,
            http_port=0,
            backend_store_uri=db_url,
            artifacts_destination=artifact_root,
            otlp_endpoint=receiver.url,
        )
    )
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    traceparent = f"00-{trace_id}-{parent_id}-01"
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = tpb_grpc.TrackingServiceStub(channel)
            exp_id = stub.CreateExperiment(
                tpb.CreateExperimentRequest(name="traced"),
                metadata=[("traceparent", traceparent), ("x-request-id", "traced-1")],
            ).experiment.experiment_id
            with pytest.raises(grpc.RpcError):
                stub.GetExperiment(tpb.GetExperimentRequest(experiment_id="424242"))
        reply = requests.get(
            f"http://127.0.0.1:{server.http_port}/v1/experiments/{exp_id}",
            headers={"traceparent": traceparent},
            timeout=10,
        )
        assert reply.ok
    finally:
        server.stop(grace=1.0)  # flushes the spans still queued

    assert set(receiver.paths) == {"/v1/traces"}
    ((created, attrs),) = receiver.named(f"{SERVICE}/CreateExperiment")
    assert created.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert attrs["rpc.system"] == "grpc"
    assert attrs["rpc.service"] == SERVICE
    assert attrs["rpc.method"] == "CreateExperiment"
    assert attrs["rpc.grpc.status_code"] == 0
    assert attrs["trackway.request_id"] == "traced-1"
    # The client's traceparent made the server span a child of the caller's.
    assert created.trace_id.hex() == trace_id
    assert created.parent_span_id.hex() == parent_id
    assert created.end_time_unix_nano > created.start_time_unix_nano

    fetched = receiver.named(f"{SERVICE}/GetExperiment")
    codes = sorted(a["rpc.grpc.status_code"] for _, a in fetched)
    assert codes == [0, 5]  # NOT_FOUND directly, OK through the /v1/ transcoder
    not_found = next(s for s, a in fetched if a["rpc.grpc.status_code"] == 5)
    # NOT_FOUND describes the request, not a server fault: the span status stays unset.
    assert not_found.status.code == trace_pb2.Status.STATUS_CODE_UNSET

    ((http, attrs),) = receiver.named("GET /v1/experiments/{experiment_id}")
    assert http.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert attrs["http.request.method"] == "GET"
    assert attrs["http.route"] == "/v1/experiments/{experiment_id}"
    assert attrs["http.response.status_code"] == 200
    assert http.trace_id.hex() == trace_id

    resources = {r.get("service.name") for r, _ in receiver.spans}
    assert resources == {"trackway"}


def _cli(args: list[str], block: str = "") -> subprocess.CompletedProcess[str]:
    """`trackway` in a child process; `block` names a module made unimportable there,
    as on a machine where its package is not installed."""
    code = (
        "import sys\n"
        + (f"sys.modules[{block!r}] = None\n" if block else "")
        + "from trackway.cli import main\n"
        + f"sys.exit(main({args!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_without_the_packages_the_flag_fails_with_one_line(tmp_path: Path) -> None:
    base = [
        "server",
        "--grpc-port",
        "0",
        "--http-port",
        "-1",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'trackway.db'}",
    ]
    done = _cli(
        [*base, "--otlp-endpoint", "http://127.0.0.1:4318"],
        block="opentelemetry.exporter.otlp.proto.http.trace_exporter",
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("trackway: error: --otlp-endpoint needs OpenTelemetry")
    assert "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http" in line
    assert not (tmp_path / "trackway.db").exists()  # refused before anything started

    done = _cli([*base, "--otlp-endpoint", "collector:4318"])
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "must be an http:// or https:// URL" in line
