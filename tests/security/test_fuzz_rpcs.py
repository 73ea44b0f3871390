"""Every RPC of every service, fuzzed with messages built from its descriptor.

The methods come from the committed descriptor set (src/trackway/gen/descriptors.binpb),
so a new RPC or service is fuzzed the day it is added. Each one is called ~25 times per
backend against a real `trackway server` process, with requests drawn by
`message_strategies` (unary: one request; streaming: a few), under a deadline. A call
may fail with any status that blames the request or the resource (INVALID_ARGUMENT,
NOT_FOUND, FAILED_PRECONDITION, ...), but never with one that blames the server:
INTERNAL or UNKNOWN (a bug), UNAVAILABLE (the server or its database gave up on a bad
input, and clients would retry it forever), or DEADLINE_EXCEEDED (a hang). After each
RPC's examples the process must still be alive and SERVING.

Runs are derandomized, so a failure reproduces; TRACKWAY_FUZZ_EXAMPLES raises the count.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import Seeded, Stubs, seed
from tests.security.message_strategies import Hints, message_strategy
from tests.support.procs import ServerProcess
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb

EXAMPLES = int(os.environ.get("TRACKWAY_FUZZ_EXAMPLES", "25"))
DEADLINE_SECONDS = 15.0
MAX_STREAM_MESSAGES = 3
MAX_STREAM_REPLIES = 64
# Codes that blame the server rather than the request.
SERVER_FAULTS = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)


def _services() -> list[ServiceDescriptor]:
    """Every service in the descriptor set, as the generated modules define it."""
    data = (resources.files("trackway.gen") / "descriptors.binpb").read_bytes()
    found: list[ServiceDescriptor] = []
    for proto in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        if not proto.service:
            continue
        module = "trackway.gen." + proto.name.removeprefix("trackway/").removesuffix(".proto")
        importlib.import_module(module.replace("/", ".") + "_pb2")
        pool = descriptor_pool.Default()
        found += [pool.FindServiceByName(f"{proto.package}.{s.name}") for s in proto.service]
    return found


def _destructive_last(pair: tuple[ServiceDescriptor, MethodDescriptor]) -> bool:
    """Deletes and purges go last, so the seeded resources serve the other RPCs first."""
    return pair[1].name.startswith(("Delete", "Purge", "Revoke"))


METHODS = sorted(
    [(service, method) for service in _services() for method in service.methods],
    key=_destructive_last,
)


def test_every_service_of_the_api_is_fuzzed() -> None:
    names = {service.full_name for service, _ in METHODS}
    assert {
        "trackway.tracking.v1.TrackingService",
        "trackway.tracking.v1.LoggedModelService",
        "trackway.artifacts.v1.ArtifactService",
        "trackway.registry.v1.ModelRegistryService",
    } <= names
    assert len(METHODS) >= 60


@dataclass
class FuzzTarget:
    proc: ServerProcess
    channel: grpc.Channel
    hints: Hints
    backend: str

    def log_tail(self, lines: int = 60) -> str:
        text = self.proc.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _hints(seeded: Seeded, stubs: Stubs, root_uri: str) -> Hints:
    rid, eid, model = seeded.run_id, seeded.experiment_id, seeded.model_name
    session = stubs.artifacts.CreateUploadSession(
        apb.CreateUploadSessionRequest(
            scope=artifact_pb2.ArtifactScope(run_id=rid), path="big.bin", size=10
        )
    ).session_id
    uris = [
        f"runs:/{rid}/model",
        f"runs:/{rid}",
        f"models:/{model}/1",
        f"models:/{model}@champion",
        f"models:/{model}/latest",
        f"models:/{model}/Production",
        f"models:/{seeded.logged_model_id}",
        f"{root_uri}/{seeded.run_dir}/model",
        f"{root_uri}/{seeded.experiment_dir}/new",
    ]
    return Hints(
        by_name={
            "name": [model, "sec-new", f"{model}-other"],
            "alias": ["champion", "blue"],
            "stage": ["Production", "Staging", "None", "Archived"],
            "stages": ["Production", "None"],
            "key": ["loss", "lr", "t", "a/b"],
            "metric_key": ["loss"],
            "value": ["0.1", "x"],
            "version": ["1", "2"],
            "writer_id": ["writer-1"],
            "worker": ["", "rank-1"],
            "request_id": [""],
            "description": ["", "about"],
            "content_type": ["", "text/plain"],
            "model_type": ["", "sklearn"],
            "status_message": [""],
        },
        by_suffix={
            "run_id": [rid],
            "run_ids": [rid],
            "experiment_id": [eid, "0"],
            "experiment_ids": [eid],
            "model_id": [seeded.logged_model_id],
            "model_ids": [seeded.logged_model_id],
            "session_id": [session],
            "path": ["ok.txt", "dir", "dir/inner.txt", "model", "new/file.bin", ""],
            "uri": uris,
            "source": uris,
            "artifact_location": ["", f"{root_uri}/{seeded.experiment_dir}/new"],
            "page_token": [""],
            "order_by": ["metrics.loss DESC", "name", "attributes.start_time ASC"],
            "run_link": ["", "https://example.com/x"],
            "sha256": [""],
            "user_id": ["", "someone"],
            "run_name": ["", "r"],
        },
    )


@pytest.fixture(scope="module")
def fuzz_target(
    db_for_module: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    backend, url = db_for_module
    folder = tmp_path_factory.mktemp(f"fuzz-{backend}")
    proc = ServerProcess(url, (folder / "artifacts").as_uri(), folder / "server.log")
    channel = grpc.insecure_channel(proc.target)
    try:
        stubs = Stubs.on(channel)
        root = (folder / "artifacts").resolve().as_uri()
        seeded = seed(stubs, root)
        yield FuzzTarget(proc, channel, _hints(seeded, stubs, root), backend)
    finally:
        channel.close()
        proc.close()


def _call(channel: grpc.Channel, path: str, method: MethodDescriptor, sent: list[Message]) -> None:
    def serialize(message: Message) -> bytes:
        return message.SerializeToString()

    def raw(data: bytes) -> bytes:
        return data

    timeout = DEADLINE_SECONDS
    if method.client_streaming and method.server_streaming:
        replies = channel.stream_stream(path, serialize, raw)(iter(sent), timeout=timeout)
    elif method.server_streaming:
        replies = channel.unary_stream(path, serialize, raw)(sent[0], timeout=timeout)
    elif method.client_streaming:
        channel.stream_unary(path, serialize, raw)(iter(sent), timeout=timeout)
        return
    else:
        channel.unary_unary(path, serialize, raw)(sent[0], timeout=timeout)
        return
    for count, _ in enumerate(replies):
        if count >= MAX_STREAM_REPLIES:
            replies.cancel()
            break


def _healthy(target: FuzzTarget) -> None:
    assert target.proc.proc.poll() is None, f"the server died:\n{target.log_tail()}"
    reply = health_pb2_grpc.HealthStub(target.channel).Check(
        health_pb2.HealthCheckRequest(), timeout=10
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    ("service", "method"), METHODS, ids=[f"{s.name}.{m.name}" for s, m in METHODS]
)
def test_fuzzed_requests_never_fault_the_server(
    fuzz_target: FuzzTarget, service: ServiceDescriptor, method: MethodDescriptor
) -> None:
    path = f"/{service.full_name}/{method.name}"
    one = message_strategy(method.input_type, fuzz_target.hints)
    if method.client_streaming:
        first = message_strategy(method.input_type, fuzz_target.hints, lead=True)
        rest = st.lists(one, max_size=MAX_STREAM_MESSAGES - 1)
        messages = st.tuples(first, rest).map(lambda pair: [pair[0], *pair[1]])
    else:
        messages = one.map(lambda m: [m])

    @FUZZ
    @given(messages)
    def call(sent: list[Message]) -> None:
        try:
            _call(fuzz_target.channel, path, method, sent)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            assert code not in SERVER_FAULTS, (
                f"{path} on {fuzz_target.backend} answered {code.name}: {detail}\n"
                f"request: {[str(m)[:2000] for m in sent]}\n--- server log ---\n"
                f"{fuzz_target.log_tail()}"
            )

    call()
    _healthy(fuzz_target)


def test_the_log_is_free_of_unexpected_errors(fuzz_target: FuzzTarget) -> None:
    """Runs after the fuzzing on each backend: nothing crashed quietly in a background
    thread (the writer, the sweeper) either."""
    log = Path(fuzz_target.proc.log_path).read_text(errors="replace")
    assert "Traceback" not in log, fuzz_target.log_tail(200)
