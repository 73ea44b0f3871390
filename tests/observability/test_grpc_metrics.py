"""gRPC metrics, scraped from a real server's /metrics after real calls: go-grpc-prometheus
names and labels, the final status codes (the ErrorInterceptor's included, and the
CANCELLED of streams a client gave up on), message counts and in-flight RPCs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest

from tests.observability.scrape import CONTENT_TYPE, Scrape, eventually, scrape
from tests.support.streams import StreamWriter, batch
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as apb_grpc
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

TRACKING = "trackway.tracking.v1.TrackingService"
ARTIFACTS = "trackway.artifacts.v1.ArtifactService"
MiB = 1024 * 1024


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code()


def _handled(found: Scrape, method: str, code: str, service: str = TRACKING) -> float:
    return found.value(
        "grpc_server_handled_total", grpc_service=service, grpc_method=method, grpc_code=code
    )


def _in_flight(found: Scrape) -> float:
    return found.value("trackway_grpc_server_in_flight")


def test_unary_calls_are_counted_with_their_final_codes(
    tracking: tpb_grpc.TrackingServiceStub, http_url: str
) -> None:
    missing = uuid.uuid4().hex
    for _ in range(3):
        tracking.CreateExperiment(tpb.CreateExperimentRequest(name=uuid.uuid4().hex))
    assert (
        _code(lambda: tracking.GetRun(tpb.GetRunRequest(run_id=missing)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(lambda: tracking.GetRun(tpb.GetRunRequest(run_id="not a run id")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )

    found = scrape(http_url)
    assert found.content_type == CONTENT_TYPE
    unary = {"grpc_type": "unary", "grpc_service": TRACKING}
    assert found.value("grpc_server_started_total", grpc_method="CreateExperiment", **unary) == 3
    assert _handled(found, "CreateExperiment", "OK") == 3
    assert _handled(found, "GetRun", "NOT_FOUND") == 1
    assert _handled(found, "GetRun", "INVALID_ARGUMENT") == 1
    assert _handled(found, "GetRun", "OK") == 0
    assert found.value("grpc_server_started_total", grpc_method="GetRun", **unary) == 2
    # The latency histogram: one observation per call, in cumulative buckets.
    assert found.value("grpc_server_handling_seconds_count", grpc_method="GetRun", **unary) == 2
    inf = found.value(
        "grpc_server_handling_seconds_bucket", grpc_method="GetRun", le="+Inf", **unary
    )
    assert inf == 2
    # A unary call receives one message, and sends one only when it succeeds.
    assert found.value("grpc_server_msg_received_total", grpc_method="GetRun", **unary) == 2
    assert found.value("grpc_server_msg_sent_total", grpc_method="GetRun", **unary) == 0
    assert found.value("grpc_server_msg_sent_total", grpc_method="CreateExperiment", **unary) == 3
    assert _in_flight(found) == 0
    # Every label is the method's, never a request's value.
    assert missing not in found.text


def test_unknown_methods_are_not_counted(web_channel: grpc.Channel, http_url: str) -> None:
    call = web_channel.unary_unary(f"/{TRACKING}/NoSuchMethod")
    assert _code(lambda: call(b"")) == grpc.StatusCode.UNIMPLEMENTED
    assert "NoSuchMethod" not in scrape(http_url).text


def test_log_stream_counts_messages_both_ways(
    web_channel: grpc.Channel, run_id: str, http_url: str
) -> None:
    writer = StreamWriter(web_channel, "observed-writer")
    for seq in range(1, 6):
        writer.send(batch(run_id, seq))
    writer.finish()
    assert writer.error is None and writer.last_acked == 5

    bidi = {"grpc_type": "bidi_stream", "grpc_service": TRACKING, "grpc_method": "LogStream"}
    found = eventually(http_url, lambda s: _handled(s, "LogStream", "OK") == 1)
    assert found.value("grpc_server_started_total", **bidi) == 1
    assert found.value("grpc_server_handled_total", grpc_code="OK", **bidi) == 1
    assert found.value("grpc_server_msg_received_total", **bidi) == 6  # open + 5 batches
    assert found.value("grpc_server_msg_sent_total", **bidi) == 6  # opened + 5 acks
    assert _in_flight(found) == 0


def test_a_stream_error_mapped_by_the_error_interceptor_keeps_its_code(
    tracking: tpb_grpc.TrackingServiceStub, run_id: str, http_url: str
) -> None:
    def not_opened() -> Iterator[tpb.LogStreamRequest]:
        yield tpb.LogStreamRequest(batch=batch(run_id, 1))

    assert _code(lambda: list(tracking.LogStream(not_opened()))) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    found = eventually(http_url, lambda s: _handled(s, "LogStream", "INVALID_ARGUMENT") == 1)
    assert _handled(found, "LogStream", "INVALID_ARGUMENT") == 1
    assert _in_flight(found) == 0


def test_a_stream_the_client_cancels_ends_cancelled(
    web_channel: grpc.Channel, run_id: str, http_url: str
) -> None:
    writer = StreamWriter(web_channel, "cancelled-writer")
    writer.send(batch(run_id, 1))
    deadline = time.monotonic() + 10
    while writer.last_acked < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _in_flight(scrape(http_url)) == 1
    writer.cancel()

    found = eventually(http_url, lambda s: _handled(s, "LogStream", "CANCELLED") == 1)
    assert _handled(found, "LogStream", "CANCELLED") == 1
    assert _handled(found, "LogStream", "OK") == 0
    assert _in_flight(found) == 0


def test_an_abandoned_download_ends_cancelled(
    web_channel: grpc.Channel, run_id: str, http_url: str
) -> None:
    art = apb_grpc.ArtifactServiceStub(web_channel)
    scope = artifact_pb2.ArtifactScope(run_id=run_id)
    data = bytes(range(256)) * (48 * MiB // 256)

    def upload() -> Iterator[apb.UploadRequest]:
        yield apb.UploadRequest(header=apb.UploadHeader(scope=scope, path="big.bin"))
        for i in range(0, len(data), MiB):
            yield apb.UploadRequest(chunk=data[i : i + MiB])
        yield apb.UploadRequest(end=apb.UploadEnd())

    art.Upload(upload())
    replies = art.Download(apb.DownloadRequest(scope=scope, path="big.bin"))
    assert len(next(replies).chunk) > 0
    replies.cancel()  # the server is blocked sending the rest, or about to be

    server_stream = {"grpc_type": "server_stream", "grpc_service": ARTIFACTS}
    found = eventually(
        http_url,
        lambda s: (
            _handled(s, "Download", "CANCELLED", ARTIFACTS) == 1
            and _handled(s, "Upload", "OK", ARTIFACTS) == 1
            and not _in_flight(s)
        ),
    )
    assert _handled(found, "Download", "CANCELLED", ARTIFACTS) == 1
    assert found.value("grpc_server_started_total", grpc_method="Download", **server_stream) == 1
    assert _in_flight(found) == 0
    # Uploads are client streams: 1 header, 48 chunks and the end in, 1 reply out.
    client_stream = {"grpc_type": "client_stream", "grpc_service": ARTIFACTS}
    assert found.value("grpc_server_msg_received_total", grpc_method="Upload", **client_stream) == (
        50
    )
    assert found.value("grpc_server_msg_sent_total", grpc_method="Upload", **client_stream) == 1
