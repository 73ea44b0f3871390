"""The gRPC door with `--auth token`: who gets in, what they may do, what they see."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.auth.conftest import Secured, Stubs, bearer
from trackway.auth.access import Authorizer
from trackway.auth.interceptor import AuthInterceptor
from trackway.auth.resources import Resolver
from trackway.gen.admin.v1 import admin_service_pb2 as admin_pb
from trackway.gen.admin.v1 import permission_pb2, user_pb2
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as art_pb
from trackway.gen.registry.v1 import model_registry_service_pb2 as reg_pb
from trackway.gen.tracking.v1 import experiment_pb2, metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.server.errors import ErrorInterceptor

READ = permission_pb2.PERMISSION_READ
EDIT = permission_pb2.PERMISSION_EDIT
MANAGE = permission_pb2.PERMISSION_MANAGE


def error_info(exc: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info


def refused(call: Any, code: grpc.StatusCode) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == code, caught.value.details()
    return caught.value


def experiment(stubs: Stubs, name: str) -> str:
    request = pb.CreateExperimentRequest(name=name)
    return str(stubs.tracking.CreateExperiment(request).experiment.experiment_id)


def run_in(stubs: Stubs, experiment_id: str) -> str:
    request = pb.CreateRunRequest(experiment_id=experiment_id)
    return str(stubs.tracking.CreateRun(request).run.info.run_id)


def grant(stubs: Stubs, experiment_id: str, user: str, level: int) -> None:
    stubs.admin.GrantExperimentPermission(
        admin_pb.GrantExperimentPermissionRequest(
            experiment_id=experiment_id, user_name=user, permission=level
        )
    )


# Authentication


def test_a_call_without_a_token_is_unauthenticated_with_error_info(secured: Secured) -> None:
    stubs = secured.stubs()
    exc = refused(
        lambda: stubs.tracking.SearchExperiments(pb.SearchExperimentsRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    info = error_info(exc)
    assert (info.reason, info.domain) == ("UNAUTHENTICATED", "trackway.dev")
    assert "Bearer" in exc.details()


def test_unknown_revoked_and_expired_tokens_are_unauthenticated(secured: Secured) -> None:
    bob = secured.user("bob")
    stubs = secured.stubs(bob)
    request = pb.SearchExperimentsRequest()
    stubs.tracking.SearchExperiments(request)
    for bad in ("tw_unknown", bob + "x", "", "Bearer"):
        refused(
            lambda bad=bad: secured.stubs().tracking.SearchExperiments(
                request, metadata=(("authorization", f"Bearer {bad}"),)
            ),
            grpc.StatusCode.UNAUTHENTICATED,
        )
    # Revoked: refused at once on the server that revoked it, despite the cache.
    token_id = stubs.admin.ListTokens(admin_pb.ListTokensRequest()).tokens[0].token_id
    stubs.admin.RevokeToken(admin_pb.RevokeTokenRequest(token_id=token_id))
    refused(lambda: stubs.tracking.SearchExperiments(request), grpc.StatusCode.UNAUTHENTICATED)
    # Expired: a token lives no longer than its ttl, cached or not.
    root = secured.stubs(secured.tokens["root"])
    short = root.admin.CreateToken(admin_pb.CreateTokenRequest(user_name="bob", ttl_seconds=1))
    brief = secured.stubs(short.secret)
    brief.tracking.SearchExperiments(request)
    assert short.token.expire_time > short.token.creation_time
    time.sleep(1.3)
    refused(lambda: brief.tracking.SearchExperiments(request), grpc.StatusCode.UNAUTHENTICATED)


def test_a_forged_gateway_assertion_is_unauthenticated(secured: Secured) -> None:
    forged = (("authorization", "Trackway-Gateway 1:root:1:" + "0" * 64),)
    refused(
        lambda: secured.stubs().tracking.SearchExperiments(
            pb.SearchExperimentsRequest(), metadata=forged
        ),
        grpc.StatusCode.UNAUTHENTICATED,
    )


def test_health_and_reflection_need_no_token(secured: Secured) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(secured.target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


# Permissions


def test_read_can_read_but_not_write_and_edit_cannot_delete_or_share(secured: Secured) -> None:
    root = secured.stubs(secured.tokens["root"])
    eid = experiment(root, "shared")
    run_id = run_in(root, eid)
    reader, editor = secured.stubs(secured.user("reader")), secured.stubs(secured.user("editor"))
    grant(root, eid, "reader", READ)
    grant(root, eid, "editor", EDIT)

    assert reader.tracking.GetRun(pb.GetRunRequest(run_id=run_id)).run.info.run_id == run_id
    batch = pb.LogBatchRequest(
        run_id=run_id, metrics=[metric_pb2.Metric(key="loss", value=1.0, timestamp=1, step=0)]
    )
    exc = refused(lambda: reader.tracking.LogBatch(batch), grpc.StatusCode.PERMISSION_DENIED)
    info = error_info(exc)
    assert info.reason == "PERMISSION_DENIED"
    assert info.metadata["needs"] == "EDIT" and info.metadata["has"] == "READ"

    editor.tracking.LogBatch(batch)
    editor.tracking.SetTag(pb.SetTagRequest(run_id=run_id, tag=run_pb2.RunTag(key="k", value="v")))
    refused(
        lambda: editor.tracking.DeleteRun(pb.DeleteRunRequest(run_id=run_id)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    refused(lambda: grant(editor, eid, "reader", EDIT), grpc.StatusCode.PERMISSION_DENIED)
    refused(
        lambda: editor.admin.ListExperimentPermissions(
            admin_pb.ListExperimentPermissionsRequest(experiment_id=eid)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    # MANAGE may share, and delete.
    grant(root, eid, "editor", MANAGE)
    grant(editor, eid, "reader", EDIT)
    reader.tracking.LogBatch(batch)
    editor.tracking.DeleteRun(pb.DeleteRunRequest(run_id=run_id))


def test_revoking_a_permission_applies_at_once(secured: Secured) -> None:
    root = secured.stubs(secured.tokens["root"])
    eid = experiment(root, "revocable")
    bob = secured.stubs(secured.user("bob"))
    grant(root, eid, "bob", READ)
    bob.tracking.GetExperiment(pb.GetExperimentRequest(experiment_id=eid))
    root.admin.RevokeExperimentPermission(
        admin_pb.RevokeExperimentPermissionRequest(experiment_id=eid, user_name="bob")
    )
    refused(
        lambda: bob.tracking.GetExperiment(pb.GetExperimentRequest(experiment_id=eid)),
        grpc.StatusCode.PERMISSION_DENIED,
    )


def test_missing_resources_are_not_found_rather_than_denied(secured: Secured) -> None:
    """MLflow's clients create an experiment when get-by-name says it does not exist."""
    bob = secured.stubs(secured.user("bob"))
    refused(
        lambda: bob.tracking.GetExperimentByName(pb.GetExperimentByNameRequest(name="nope")),
        grpc.StatusCode.NOT_FOUND,
    )
    refused(
        lambda: bob.tracking.GetExperiment(pb.GetExperimentRequest(experiment_id="999")),
        grpc.StatusCode.NOT_FOUND,
    )
    refused(
        lambda: bob.tracking.GetRun(pb.GetRunRequest(run_id="f" * 32)), grpc.StatusCode.NOT_FOUND
    )
    refused(
        lambda: bob.tracking.GetRun(pb.GetRunRequest(run_id="../x")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


def test_creators_manage_what_they_create_and_others_see_nothing_of_it(secured: Secured) -> None:
    alice = secured.stubs(secured.user("alice"))
    bob = secured.stubs(secured.user("bob"))
    eid = experiment(bob, "bobs")
    run_id = run_in(bob, eid)
    bob.registry.CreateRegisteredModel(reg_pb.CreateRegisteredModelRequest(name="bobs-model"))
    bob.registry.CreateModelVersion(
        reg_pb.CreateModelVersionRequest(name="bobs-model", source=f"runs:/{run_id}/m")
    )
    experiment(alice, "alices")

    def names(stubs: Stubs) -> set[str]:
        found = stubs.tracking.SearchExperiments(pb.SearchExperimentsRequest()).experiments
        return {e.name for e in found}

    assert names(bob) == {"bobs"}
    assert names(alice) == {"alices"}
    assert alice.tracking.SearchRuns(pb.SearchRunsRequest()).runs == []
    assert len(bob.tracking.SearchRuns(pb.SearchRunsRequest()).runs) == 1
    refused(
        lambda: alice.tracking.SearchRuns(pb.SearchRunsRequest(experiment_ids=[eid])),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    search = reg_pb.SearchRegisteredModelsRequest()
    assert alice.registry.SearchRegisteredModels(search).registered_models == []
    assert [m.name for m in bob.registry.SearchRegisteredModels(search).registered_models] == [
        "bobs-model"
    ]
    versions = reg_pb.SearchModelVersionsRequest()
    assert alice.registry.SearchModelVersions(versions).model_versions == []
    assert len(bob.registry.SearchModelVersions(versions).model_versions) == 1
    # Bob shares his model (not his experiment) with alice: she sees the model only.
    bob.admin.GrantRegisteredModelPermission(
        admin_pb.GrantRegisteredModelPermissionRequest(
            name="bobs-model", user_name="alice", permission=READ
        )
    )
    assert len(alice.registry.SearchModelVersions(versions).model_versions) == 1
    assert names(alice) == {"alices"}
    # Bob manages his experiment: he may delete it, alice may not even read it.
    refused(
        lambda: alice.tracking.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=eid)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    bob.tracking.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=eid))
    # The admin sees everything.
    root = secured.stubs(secured.tokens["root"])
    everything = root.tracking.SearchExperiments(
        pb.SearchExperimentsRequest(view_type=experiment_pb2.VIEW_TYPE_ALL)
    )
    assert {e.name for e in everything.experiments} == {"alices", "bobs"}


def test_post_filtered_pages_hold_each_visible_experiment_once(secured: Secured) -> None:
    root = secured.stubs(secured.tokens["root"])
    bob = secured.stubs(secured.user("bob"))
    visible = set()
    for i in range(30):
        eid = experiment(root, f"e{i:02d}")
        if i % 3 == 0:
            grant(root, eid, "bob", READ)
            visible.add(f"e{i:02d}")
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        reply = bob.tracking.SearchExperiments(
            pb.SearchExperimentsRequest(page_size=4, page_token=token)
        )
        assert len(reply.experiments) <= 4
        seen += [e.name for e in reply.experiments]
        token = reply.next_page_token
        pages += 1
        if not token:
            break
    assert sorted(seen) == sorted(visible)
    assert pages >= 3


def test_a_logstream_batch_for_a_run_the_caller_may_not_edit_ends_the_stream(
    secured: Secured,
) -> None:
    root = secured.stubs(secured.tokens["root"])
    bob = secured.stubs(secured.user("bob"))
    mine = run_in(bob, experiment(bob, "bobs"))
    theirs = run_in(root, experiment(root, "roots"))

    def batch(seq: int, run_id: str) -> pb.LogStreamRequest:
        columns = metric_pb2.MetricColumns(key="loss", steps=[seq], timestamps=[1], values=[1.0])
        return pb.LogStreamRequest(
            batch=pb.LogStreamBatch(seq=seq, run_id=run_id, metrics=[columns])
        )

    messages = [
        pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id="bob-writer")),
        batch(1, mine),
        batch(2, theirs),
    ]
    acked = []
    with pytest.raises(grpc.RpcError) as caught:
        for reply in bob.tracking.LogStream(iter(messages)):
            if reply.HasField("ack"):
                acked.append(reply.ack.seq)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert acked == [1]

    def points(run_id: str) -> int:
        request = pb.GetMetricHistoryRequest(run_id=run_id, metric_key="loss")
        return len(root.tracking.GetMetricHistory(request).points.steps)

    assert (points(mine), points(theirs)) == (1, 0)


def test_an_upload_is_checked_on_its_header(secured: Secured) -> None:
    root = secured.stubs(secured.tokens["root"])
    bob = secured.stubs(secured.user("bob"))
    theirs = run_in(root, experiment(root, "roots"))

    def upload(stubs: Stubs, run_id: str) -> Any:
        header = art_pb.UploadHeader(scope=artifact_pb2.ArtifactScope(run_id=run_id), path="f")
        return stubs.artifacts.Upload(
            iter(
                [
                    art_pb.UploadRequest(header=header),
                    art_pb.UploadRequest(chunk=b"x"),
                    art_pb.UploadRequest(end=art_pb.UploadEnd()),
                ]
            )
        )

    refused(lambda: upload(bob, theirs), grpc.StatusCode.PERMISSION_DENIED)
    assert upload(root, theirs).complete
    # A stream that does not start with its header is refused before the servicer.
    refused(
        lambda: bob.artifacts.Upload(iter([art_pb.UploadRequest(chunk=b"x")])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


def test_registering_someone_elses_files_is_denied(secured: Secured) -> None:
    """The registry's local-file-read shape: a version whose source points into an
    experiment the caller may not read would hand its files to the model's readers."""
    root = secured.stubs(secured.tokens["root"])
    bob = secured.stubs(secured.user("bob"))
    secret_eid = experiment(root, "secret")
    secret_run = run_in(root, secret_eid)
    location = root.tracking.GetRun(pb.GetRunRequest(run_id=secret_run)).run.info.artifact_uri
    bob.registry.CreateRegisteredModel(reg_pb.CreateRegisteredModelRequest(name="bobs-model"))
    for source in (f"runs:/{secret_run}/model", f"{location}/model"):
        refused(
            lambda source=source: bob.registry.CreateModelVersion(
                reg_pb.CreateModelVersionRequest(name="bobs-model", source=source)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
    refused(
        lambda: bob.registry.ResolveModelUri(
            reg_pb.ResolveModelUriRequest(uri=f"runs:/{secret_run}/m")
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )


def test_the_admin_api_keeps_users_to_themselves_and_an_admin_in_place(secured: Secured) -> None:
    root = secured.stubs(secured.tokens["root"])
    bob = secured.stubs(secured.user("bob"))
    secured.user("carol")
    me = bob.admin.GetCurrentUser(admin_pb.GetCurrentUserRequest()).user
    assert (me.name, me.role) == ("bob", user_pb2.ROLE_USER)
    made = bob.admin.CreateToken(admin_pb.CreateTokenRequest(description="laptop"))
    assert made.secret.startswith("tw_") and made.token.user_name == "bob"
    assert len(bob.admin.ListTokens(admin_pb.ListTokensRequest()).tokens) == 2
    for call in (
        lambda: bob.admin.CreateUser(admin_pb.CreateUserRequest(name="eve")),
        lambda: bob.admin.ListUsers(admin_pb.ListUsersRequest()),
        lambda: bob.admin.CreateToken(admin_pb.CreateTokenRequest(user_name="carol")),
        lambda: bob.admin.ListTokens(admin_pb.ListTokensRequest(user_name="carol")),
        lambda: bob.admin.GetUser(admin_pb.GetUserRequest(name="carol")),
    ):
        refused(call, grpc.StatusCode.PERMISSION_DENIED)
    carols = root.admin.ListTokens(admin_pb.ListTokensRequest(user_name="carol")).tokens
    refused(
        lambda: bob.admin.RevokeToken(admin_pb.RevokeTokenRequest(token_id=carols[0].token_id)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    bob.admin.RevokeToken(admin_pb.RevokeTokenRequest(token_id=made.token.token_id))
    # The last admin can be neither demoted nor deleted.
    refused(
        lambda: root.admin.UpdateUser(
            admin_pb.UpdateUserRequest(name="root", role=user_pb2.ROLE_USER)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    refused(
        lambda: root.admin.DeleteUser(admin_pb.DeleteUserRequest(name="root")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    root.admin.UpdateUser(admin_pb.UpdateUserRequest(name="bob", role=user_pb2.ROLE_ADMIN))
    assert len(bob.admin.ListUsers(admin_pb.ListUsersRequest()).users) == 3
    root.admin.DeleteUser(admin_pb.DeleteUserRequest(name="carol"))
    refused(
        lambda: secured.stubs(secured.tokens["carol"]).tracking.SearchExperiments(
            pb.SearchExperimentsRequest()
        ),
        grpc.StatusCode.UNAUTHENTICATED,
    )


def test_a_method_without_a_rule_is_for_admins_only(secured: Secured) -> None:
    """Fail closed: a service registered without rules is refused to regular users."""
    security = secured.running.security
    assert security is not None and security.authenticator is not None
    authorizer = Authorizer(security.store, Resolver(security.store, "file:///nowhere"))
    interceptor = AuthInterceptor(security.authenticator, authorizer)
    handler = grpc.method_handlers_generic_handler(
        "test.Unruled",
        {"Do": grpc.unary_unary_rpc_method_handler(lambda request, context: b"done")},
    )
    server = grpc.server(
        ThreadPoolExecutor(max_workers=2), interceptors=[ErrorInterceptor(), interceptor]
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            do = channel.unary_unary("/test.Unruled/Do")
            bob = secured.user("bob")
            with pytest.raises(grpc.RpcError) as caught:
                do(b"", metadata=bearer(bob))
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "no permission rule" in caught.value.details()
            assert do(b"", metadata=bearer(secured.tokens["root"])) == b"done"
    finally:
        server.stop(0)
