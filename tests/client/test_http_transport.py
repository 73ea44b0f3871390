"""The SDK's HTTP transport beyond what the `client` and `fluent` tests run over both
transports: gRPC-only RPCs, broken connections, request ids of logged batches, and
answers that are not the server's own."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import code_pb2

from tests.client.conftest import tracking_uri
from trackway.client import TrackwayClient
from trackway.client.http_channel import HttpChannel
from trackway.client.http_codec import status_from_json
from trackway.client.http_log_session import columns_request
from trackway.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.gen.tracking.v1.metric_pb2 import MetricColumns
from trackway.gen.tracking.v1.run_pb2 import Param
from trackway.server.app import RunningServer


@pytest.fixture
def http_client(sqlite_server: RunningServer) -> Iterator[TrackwayClient]:
    with TrackwayClient(tracking_uri(sqlite_server, "http"), retry_seconds=0) as client:
        yield client


def test_a_streaming_rpc_says_it_is_grpc_only(http_client: TrackwayClient) -> None:
    stub = pb_grpc.TrackingServiceStub(http_client.channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.LogStream(iter(()))
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "LogStream is gRPC-only" in caught.value.details()


def test_an_unreachable_server_is_unavailable_and_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with TrackwayClient(f"http://127.0.0.1:{port}", retry_seconds=0) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable, match=f"127.0.0.1:{port}"):
            client.get_experiment("1")
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_retry_seconds_come_from_the_environment(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TRACKWAY_RETRY_SECONDS", "0.5")
    with TrackwayClient(f"{scheme}://127.0.0.1:{port}") as client:
        assert client.retry_seconds == 0.5
        started = time.monotonic()
        with pytest.raises(Unavailable):
            client.get_experiment("1")
        assert time.monotonic() - started < 10
    for bad in ("soon", "-1", "inf"):
        monkeypatch.setenv("TRACKWAY_RETRY_SECONDS", bad)
        with pytest.raises(InvalidArgument, match="TRACKWAY_RETRY_SECONDS"):
            TrackwayClient(f"{scheme}://127.0.0.1:{port}")


def test_a_replica_that_cannot_be_reached_is_passed_over(sqlite_server: RunningServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{dead},127.0.0.1:{sqlite_server.http_port}"
    with TrackwayClient(uri, retry_seconds=0) as client:
        eid = client.create_experiment("replicas")
        assert client.get_experiment(eid).name == "replicas"


def test_a_connection_closed_while_idle_is_replaced(http_client: TrackwayClient) -> None:
    eid = http_client.create_experiment("idle")
    channel = http_client.channel
    assert isinstance(channel, HttpChannel)
    connection = channel._local.connection
    assert connection is not None and connection.sock is not None
    connection.sock.shutdown(socket.SHUT_RDWR)  # as a server's keep-alive timeout does
    assert http_client.get_experiment(eid).name == "idle"


class _Redirector(http.server.BaseHTTPRequestHandler):
    """An ingress that sends plain HTTP to HTTPS, as many do."""

    def _answer(self) -> None:
        self.send_response(308)
        self.send_header("Location", f"https://example.com{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *_args: object) -> None:
        pass


def test_a_redirect_is_not_followed_but_named() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        client = TrackwayClient(uri, retry_seconds=0)
        with (
            client,
            pytest.raises(FailedPrecondition, match=r"redirect to https://example\.com/v1/"),
        ):
            client.create_experiment("moved")
    finally:
        server.shutdown()
        server.server_close()


def test_a_path_prefix_is_kept(sqlite_server: RunningServer) -> None:
    uri = f"{tracking_uri(sqlite_server, 'http')}/behind/a/proxy"
    with TrackwayClient(uri, retry_seconds=0) as client, pytest.raises(NotFound, match="/behind"):
        client.get_experiment("1")


def test_a_resent_batch_is_stored_once(http_client: TrackwayClient) -> None:
    run_id = http_client.create_run(http_client.create_experiment("resend")).info.run_id
    batch = pb.LogStreamBatch(
        run_id=run_id,
        metrics=[MetricColumns(key="loss", steps=[1, 2], timestamps=[10, 20], values=[0.5, 0.25])],
        params=[Param(key="lr", value="0.1")],
    )
    stub = pb_grpc.TrackingServiceStub(http_client.channel)
    for _ in range(2):  # the second time as after a lost answer: same batch, same serial
        stub.LogColumns(columns_request(batch, "writer.7"))
    history = http_client.get_metric_history(run_id, "loss")
    assert [(p.step, p.value) for p in history] == [(1, 0.5), (2, 0.25)]
    assert http_client.get_run(run_id).data.params == {"lr": "0.1"}


def test_the_logger_sends_a_batch_in_one_call(http_client: TrackwayClient) -> None:
    run_id = http_client.create_run(http_client.create_experiment("one-call")).info.run_id
    logger = http_client.logger
    for step in range(25_000):
        logger.log_metric(run_id, "loss", 0.5, step=step)
    logger.flush()
    # up to batch_points (10,000) per LogColumns call, not LogBatch's 1,000
    assert logger.stats.points_sent / logger.stats.batches_sent > 1_000
    assert len(http_client.get_metric_history(run_id, "loss")) == 25_000


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (502, b"<html>Bad Gateway</html>", code_pb2.UNAVAILABLE),
        (503, b"", code_pb2.UNAVAILABLE),
        (404, b"not json", code_pb2.NOT_FOUND),
        (500, b"{}", code_pb2.INTERNAL),
        (400, b'{"code": 3, "message": "bad field"}', code_pb2.INVALID_ARGUMENT),
    ],
)
def test_answers_that_are_not_a_status_get_the_code_http_implies(
    status: int, body: bytes, code: int
) -> None:
    found = status_from_json(status, body)
    assert found.code == code
    assert found.message
