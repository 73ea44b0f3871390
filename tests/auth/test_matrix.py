"""The permission matrix: every RPC of the server, called by every kind of caller.

Requests are built generically from the descriptors: each field that names a resource
(experiment_id, run_id, name, scope, source, uri, ...) names one of root's: an
experiment with a run, an artifact and a logged model, and a registered model with a
version. The callers:

- nobody (no credentials) and a bad token: UNAUTHENTICATED, except on health and
  reflection;
- a user with no permission, one with READ and one with EDIT on root's experiment and
  model: PERMISSION_DENIED exactly where the method's rule asks for more than they have
  (so READ cannot write, EDIT cannot delete or manage permissions), and never elsewhere;
- root, an admin: never refused.

A method added to a service without a rule fails tests/auth/test_coverage.py; one whose
rule is wrong fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.auth.conftest import Secured, bearer
from trackway.auth import rules
from trackway.auth.entities import Permission
from trackway.auth.rules import Access, Kind
from trackway.gen.admin.v1 import admin_service_pb2 as admin_pb
from trackway.gen.admin.v1 import permission_pb2
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as art_pb
from trackway.gen.registry.v1 import model_registry_service_pb2 as reg_pb
from trackway.gen.tracking.v1 import logged_model_service_pb2 as lm_pb
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.rest import openapi
from trackway.rest.transcode import _import_generated

EXPERIMENT_NAME = "root-experiment"
MODEL = "root-model"
CALL_TIMEOUT = 20.0


@dataclass
class World:
    secured: Secured
    experiment_id: str
    run_id: str
    logged_model_id: str
    root_token_id: str
    levels: dict[str, Permission]  # caller name -> level on root's experiment and model


@pytest.fixture
def world(secured: Secured) -> World:
    root = secured.stubs(secured.tokens["root"])
    eid = root.tracking.CreateExperiment(
        pb.CreateExperimentRequest(name=EXPERIMENT_NAME)
    ).experiment.experiment_id
    run_id = root.tracking.CreateRun(pb.CreateRunRequest(experiment_id=eid)).run.info.run_id
    root.artifacts.Upload(
        iter(
            [
                art_pb.UploadRequest(
                    header=art_pb.UploadHeader(
                        scope=artifact_pb2.ArtifactScope(run_id=run_id), path="x.txt"
                    )
                ),
                art_pb.UploadRequest(chunk=b"hello"),
                art_pb.UploadRequest(end=art_pb.UploadEnd()),
            ]
        )
    )
    logged = root.logged.CreateLoggedModel(lm_pb.CreateLoggedModelRequest(experiment_id=eid))
    root.registry.CreateRegisteredModel(reg_pb.CreateRegisteredModelRequest(name=MODEL))
    root.registry.CreateModelVersion(
        reg_pb.CreateModelVersionRequest(name=MODEL, source=f"runs:/{run_id}/x.txt")
    )
    # A spare token of root's for RevokeToken to name: revoking the one in use would
    # lock root out halfway through its own pass.
    spare = root.admin.CreateToken(admin_pb.CreateTokenRequest(description="spare")).token
    levels = {"nobody": Permission.NONE, "reader": Permission.READ, "editor": Permission.EDIT}
    for name, level in levels.items():
        secured.user(name)
        if level:
            root.admin.GrantExperimentPermission(
                admin_pb.GrantExperimentPermissionRequest(
                    experiment_id=eid, user_name=name, permission=int(level)
                )
            )
            root.admin.GrantRegisteredModelPermission(
                admin_pb.GrantRegisteredModelPermissionRequest(
                    name=MODEL, user_name=name, permission=int(level)
                )
            )
    return World(secured, eid, run_id, logged.model.model_id, spare.token_id, levels)


def _methods() -> list[tuple[str, Any]]:
    found = []
    for file in openapi.descriptor_files():
        for service in file.service:
            full = f"{file.package}.{service.name}"
            _import_generated(full)
            descriptor = descriptor_pool.Default().FindServiceByName(full)
            for method in descriptor.methods:
                found.append((f"/{full}/{method.name}", method))
    from grpc_health.v1 import health_pb2

    for method in health_pb2.DESCRIPTOR.services_by_name["Health"].methods:
        found.append((f"/grpc.health.v1.Health/{method.name}", method))
    return found


METHODS = _methods()


def _fill(message: Message, world: World, method: str) -> None:
    """Sets every field that names a resource to root's resource of that kind."""
    models = "ModelRegistryService" in method or "RegisteredModel" in method
    users = "AdminService" in method and not models and "Experiment" not in method
    text = {
        "experiment_id": world.experiment_id,
        "run_id": world.run_id,
        "parent_run_id": world.run_id,
        "source_run_id": world.run_id,
        "model_id": world.logged_model_id,
        "user_name": "root",
        "token_id": world.root_token_id,
        "uri": f"models:/{MODEL}/1",
        "source": f"runs:/{world.run_id}/x.txt",
        "path": "x.txt",
        "metric_key": "loss",
        "key": "k",
        "alias": "champion",
        "new_name": MODEL,
        "session_id": "0" * 32,
        "writer_id": "w",
        "name": MODEL if models else ("root" if users else EXPERIMENT_NAME),
    }
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if field.message_type is not None and not field.is_repeated:
            if name in ("scope", "header", "start", "batch"):
                _fill(getattr(message, name), world, method)
                if name == "scope":
                    message.scope.run_id = world.run_id
            continue
        if field.is_repeated:
            if name == "run_ids":
                message.run_ids.append(world.run_id)
            elif name == "experiment_ids":
                message.experiment_ids.append(world.experiment_id)
            continue
        if name in text and field.type == field.TYPE_STRING:
            setattr(message, name, text[name])
        elif name == "version":
            message.version = 1
        elif name == "permission":
            message.permission = permission_pb2.PERMISSION_READ
        elif name == "seq":
            message.seq = 1


def _requests(method: str, descriptor: Any, world: World) -> list[Message]:
    request_class = GetMessageClass(descriptor.input_type)
    if method.endswith("/LogStream"):
        return [
            pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id="w")),
            pb.LogStreamRequest(batch=pb.LogStreamBatch(seq=1, run_id=world.run_id)),
        ]
    if method.endswith("/Upload"):
        first = art_pb.UploadRequest()
        _fill(first.header, world, method)
        first.header.session_id = ""
        return [first, art_pb.UploadRequest(chunk=b"abc")]
    if method.endswith("/UploadFolder"):
        first = art_pb.UploadFolderRequest()
        _fill(first.start, world, method)
        return [first]
    request = request_class()
    _fill(request, world, method)
    return [request]


def call(channel: grpc.Channel, method: str, descriptor: Any, requests: list[Message],
         metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:  # fmt: skip
    """The status code a call ends with (OK when it succeeds)."""
    response_class = GetMessageClass(descriptor.output_type)
    kwargs = {
        "request_serializer": lambda m: m.SerializeToString(),
        "response_deserializer": response_class.FromString,
    }
    try:
        if descriptor.client_streaming and descriptor.server_streaming:
            stub = channel.stream_stream(method, **kwargs)
            for _ in stub(iter(requests), metadata=metadata, timeout=CALL_TIMEOUT):
                pass
        elif descriptor.client_streaming:
            channel.stream_unary(method, **kwargs)(
                iter(requests), metadata=metadata, timeout=CALL_TIMEOUT
            )
        elif descriptor.server_streaming:
            stub = channel.unary_stream(method, **kwargs)
            for _ in stub(requests[0], metadata=metadata, timeout=CALL_TIMEOUT):
                if method.endswith("/Watch"):
                    break
        else:
            channel.unary_unary(method, **kwargs)(
                requests[0], metadata=metadata, timeout=CALL_TIMEOUT
            )
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _level_needed(rule: rules.Rule, world: World, caller: str) -> bool:
    """Whether `caller` lacks what `rule` needs on root's resources."""
    if rule.access in (Access.PUBLIC, Access.AUTHENTICATED):
        return False
    if rule.access in (Access.ADMIN, Access.SELF):
        return True  # every self rule names root here
    level = world.levels[caller]
    return any(
        need.permission > level for need in rule.needs if need.kind not in (Kind.USER, Kind.TOKEN)
    )


def _run_all(
    world: World, metadata: tuple[tuple[str, str], ...]
) -> Iterator[tuple[str, grpc.StatusCode]]:
    with grpc.insecure_channel(world.secured.target) as channel:
        for method, descriptor in METHODS:
            yield (
                method,
                call(channel, method, descriptor, _requests(method, descriptor, world), metadata),
            )


@pytest.mark.parametrize("credentials", ["none", "bad token", "wrong scheme"])
def test_callers_without_valid_credentials_reach_only_health_and_reflection(
    world: World, credentials: str
) -> None:
    metadata = {
        "none": (),
        "bad token": bearer("tw_" + "A" * 43),
        "wrong scheme": (("authorization", "Basic cm9vdDpwYXNzd29yZA=="),),
    }[credentials]
    wrong = []
    for method, code in _run_all(world, metadata):
        public = rules.RULES[method].access is Access.PUBLIC
        if public == (code == grpc.StatusCode.UNAUTHENTICATED):
            wrong.append((method, code))
    assert wrong == []


@pytest.mark.parametrize("caller", ["nobody", "reader", "editor"])
def test_each_rpc_refuses_exactly_the_callers_its_rule_refuses(world: World, caller: str) -> None:
    wrong = []
    outcomes = set()
    for method, code in _run_all(world, bearer(world.secured.tokens[caller])):
        denied = _level_needed(rules.RULES[method], world, caller)
        outcomes.add(denied)
        if denied and code != grpc.StatusCode.PERMISSION_DENIED:
            wrong.append((method, "should be refused", code))
        if not denied and code in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAUTHENTICATED,
        ):
            wrong.append((method, "should pass", code))
    assert wrong == []
    assert outcomes == {True, False}  # each caller meets both refusals and passes


def test_an_admin_is_never_refused(world: World) -> None:
    refused = [
        (method, code)
        for method, code in _run_all(world, bearer(world.secured.tokens["root"]))
        if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    ]
    assert refused == []


def test_the_matrix_covers_reads_writes_deletes_and_permission_management() -> None:
    """READ-only callers must meet EDIT rules and EDIT callers MANAGE rules here, or the
    matrix would prove nothing about writes and deletes."""
    levels = {rule.permission for rule in rules.RULES.values()}
    assert {Permission.READ, Permission.EDIT, Permission.MANAGE} <= levels
    managed = [m for m, r in rules.RULES.items() if r.permission is Permission.MANAGE]
    assert "/trackway.admin.v1.AdminService/GrantExperimentPermission" in managed
    assert "/trackway.tracking.v1.TrackingService/DeleteExperiment" in managed
    assert "/trackway.artifacts.v1.ArtifactService/DeleteArtifact" in managed
