"""LoggedModelService over gRPC, on SQLite and PostgreSQL: each RPC's happy path and its
documented errors, checked as a client sees them (code, ErrorInfo reason, message,
BadRequest field), plus reflection and health for the new service."""

from __future__ import annotations

import json
import math
import re
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.logged_models.conftest import unique
from tests.test_server import _grpcurl
from tests.test_tracking_rpcs import INVALID, NOT_FOUND, PRECONDITION, assert_error
from trackway.gen.tracking.v1 import logged_model_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1.logged_model_service_pb2_grpc import LoggedModelServiceStub
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub
from trackway.server.app import RunningServer

SERVICE = "trackway.tracking.v1.LoggedModelService"
Models = LoggedModelServiceStub


def new_experiment(tracking: TrackingServiceStub) -> str:
    request = tpb.CreateExperimentRequest(name=unique())
    return str(tracking.CreateExperiment(request).experiment.experiment_id)


def new_run(tracking: TrackingServiceStub, experiment_id: str) -> str:
    request = tpb.CreateRunRequest(experiment_id=experiment_id)
    return str(tracking.CreateRun(request).run.info.run_id)


def create(stub: Models, experiment_id: str, **kw: object) -> pb.LoggedModel:
    request = pb.CreateLoggedModelRequest(experiment_id=experiment_id, **kw)  # type: ignore[arg-type]
    return stub.CreateLoggedModel(request).model


def get(stub: Models, model_id: str, allow_deleted: bool = False) -> pb.LoggedModel:
    request = pb.GetLoggedModelRequest(model_id=model_id, allow_deleted=allow_deleted)
    return stub.GetLoggedModel(request).model


def tags(message: pb.LoggedModel) -> dict[str, str]:
    return {t.key: t.value for t in message.tags}


def test_the_lifecycle_of_a_model(
    models_stub: Models, tracking_stub: TrackingServiceStub, artifact_root: str
) -> None:
    eid = new_experiment(tracking_stub)
    rid = new_run(tracking_stub, eid)
    made = create(
        models_stub,
        eid,
        name="net",
        model_type="sklearn",
        source_run_id=rid,
        params=[pb.LoggedModelParam(key="lr", value="0.1")],
        tags=[pb.LoggedModelTag(key="a", value="1")],
    )
    assert re.fullmatch(r"m-[0-9a-f]{32}", made.model_id)
    assert made.status == pb.LOGGED_MODEL_STATUS_PENDING and not made.deleted
    assert made.artifact_location == f"{artifact_root}/{eid}/models/{made.model_id}/artifacts"
    assert (made.name, made.model_type, made.source_run_id) == ("net", "sklearn", rid)
    tagged = models_stub.SetLoggedModelTags(
        pb.SetLoggedModelTagsRequest(
            model_id=made.model_id, tags=[pb.LoggedModelTag(key="b", value="2")]
        )
    ).model
    assert tags(tagged) == {"a": "1", "b": "2"}
    models_stub.DeleteLoggedModelTag(
        pb.DeleteLoggedModelTagRequest(model_id=made.model_id, key="a")
    )
    models_stub.LogLoggedModelParams(
        pb.LogLoggedModelParamsRequest(
            model_id=made.model_id, params=[pb.LoggedModelParam(key="depth", value="3")]
        )
    )
    models_stub.LogLoggedModelMetrics(
        pb.LogLoggedModelMetricsRequest(
            model_id=made.model_id,
            run_id=rid,
            metrics=[
                pb.LoggedModelMetric(
                    key="acc", value=0.9, timestamp=5, step=1, run_id="ignored", dataset_name="val"
                ),
                pb.LoggedModelMetric(key="loss", value=math.nan, timestamp=5),
            ],
        )
    )
    done = models_stub.FinalizeLoggedModel(
        pb.FinalizeLoggedModelRequest(
            model_id=made.model_id, status=pb.LOGGED_MODEL_STATUS_READY, status_message="ok"
        )
    ).model
    assert done.status == pb.LOGGED_MODEL_STATUS_READY and done.status_message == "ok"
    got = get(models_stub, made.model_id)
    assert got == done
    assert tags(got) == {"b": "2"}
    assert [(p.key, p.value) for p in got.params] == [("depth", "3"), ("lr", "0.1")]
    acc, loss = got.metrics
    assert (acc.key, acc.value, acc.step, acc.run_id, acc.dataset_name) == (
        "acc",
        0.9,
        1,
        rid,
        "val",
    )
    assert loss.key == "loss" and math.isnan(loss.value)
    models_stub.DeleteLoggedModel(pb.DeleteLoggedModelRequest(model_id=made.model_id))
    assert_error(lambda: get(models_stub, made.model_id), NOT_FOUND, says="deleted")
    assert get(models_stub, made.model_id, allow_deleted=True).deleted


def test_search_over_grpc(models_stub: Models, tracking_stub: TrackingServiceStub) -> None:
    eid = new_experiment(tracking_stub)
    made = [create(models_stub, eid, name=f"m{i}") for i in range(5)]
    models_stub.LogLoggedModelMetrics(
        pb.LogLoggedModelMetricsRequest(
            model_id=made[2].model_id,
            metrics=[pb.LoggedModelMetric(key="acc", value=1.0, dataset_name="val")],
        )
    )
    seen: list[str] = []
    token = ""
    while True:
        page = models_stub.SearchLoggedModels(
            pb.SearchLoggedModelsRequest(
                experiment_ids=[eid], order_by=["name DESC"], page_size=2, page_token=token
            )
        )
        seen += [m.name for m in page.models]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]
    found = models_stub.SearchLoggedModels(
        pb.SearchLoggedModelsRequest(
            experiment_ids=[eid],
            filter="metrics.acc >= 1 AND name LIKE 'm%'",
            datasets=[pb.LoggedModelDatasetFilter(dataset_name="val")],
        )
    ).models
    assert [m.model_id for m in found] == [made[2].model_id]
    assert found[0].metrics[0].value == 1.0


def test_errors_carry_error_info_and_bad_request(
    models_stub: Models, tracking_stub: TrackingServiceStub
) -> None:
    eid = new_experiment(tracking_stub)
    made = create(models_stub, eid, params=[pb.LoggedModelParam(key="lr", value="1")])
    mid = made.model_id
    assert_error(lambda: create(models_stub, ""), INVALID, "experiment_id", says="required")
    assert_error(lambda: create(models_stub, eid, name="a.b"), INVALID, "name")
    assert_error(lambda: create(models_stub, "123456789"), NOT_FOUND, says="experiment")
    assert_error(lambda: create(models_stub, eid, source_run_id="0" * 32), NOT_FOUND, says="run")
    assert_error(
        lambda: create(models_stub, eid, tags=[pb.LoggedModelTag(key="../up", value="v")]),
        INVALID,
        "tags[0].key",
    )
    assert_error(lambda: get(models_stub, "m-unknown"), NOT_FOUND, says="m-unknown")
    assert_error(lambda: get(models_stub, ""), INVALID, "model_id")
    assert_error(
        lambda: models_stub.FinalizeLoggedModel(pb.FinalizeLoggedModelRequest(model_id=mid)),
        INVALID,
        "status",
    )
    assert_error(
        lambda: models_stub.FinalizeLoggedModel(
            pb.FinalizeLoggedModelRequest(model_id=mid, status=pb.LOGGED_MODEL_STATUS_PENDING)
        ),
        INVALID,
        "status",
        says="READY",
    )
    assert_error(
        lambda: models_stub.LogLoggedModelParams(
            pb.LogLoggedModelParamsRequest(
                model_id=mid, params=[pb.LoggedModelParam(key="lr", value="2")]
            )
        ),
        PRECONDITION,
        says="write-once",
        metadata={"key": "lr"},
    )
    assert_error(
        lambda: models_stub.DeleteLoggedModelTag(
            pb.DeleteLoggedModelTagRequest(model_id=mid, key="none")
        ),
        NOT_FOUND,
        says="no tag",
    )
    assert_error(
        lambda: models_stub.LogLoggedModelMetrics(
            pb.LogLoggedModelMetricsRequest(
                model_id=mid,
                run_id="0" * 32,
                metrics=[pb.LoggedModelMetric(key="k", value=1.0)],
            )
        ),
        NOT_FOUND,
        says="run",
    )
    assert_error(
        lambda: models_stub.LogLoggedModelMetrics(
            pb.LogLoggedModelMetricsRequest(
                model_id=mid, metrics=[pb.LoggedModelMetric(key="k", value=1.0, timestamp=-5)]
            )
        ),
        INVALID,
        "metrics[0].timestamp",
    )
    assert_error(
        lambda: models_stub.SearchLoggedModels(
            pb.SearchLoggedModelsRequest(experiment_ids=[eid], filter="name = 'a' AND")
        ),
        INVALID,
        "filter",
        says="end of input",
    )
    assert_error(
        lambda: models_stub.SearchLoggedModels(pb.SearchLoggedModelsRequest()),
        INVALID,
        "experiment_ids",
    )


def test_a_retry_with_the_same_request_id_creates_one_model(
    models_stub: Models, tracking_stub: TrackingServiceStub
) -> None:
    eid = new_experiment(tracking_stub)
    first = create(models_stub, eid, name="once", request_id="retry-me")
    second = create(models_stub, eid, name="once", request_id="retry-me")
    assert first == second
    page = models_stub.SearchLoggedModels(pb.SearchLoggedModelsRequest(experiment_ids=[eid]))
    assert len(page.models) == 1


def test_health_and_reflection_know_the_service(
    server: RunningServer, channel: grpc.Channel
) -> None:
    assert SERVICE in server.service_names
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=SERVICE)
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_grpcurl_describes_and_calls_the_service(
    server: RunningServer, tracking_stub: TrackingServiceStub
) -> None:
    grpcurl = _grpcurl()
    target = f"127.0.0.1:{server.port}"

    def run(*args: str) -> str:
        done = subprocess.run(
            [grpcurl, "-plaintext", *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert SERVICE in run(target, "list").split()
    described = run(target, "describe", f"{SERVICE}.FinalizeLoggedModel")
    assert "Sets the final status of a model" in described
    message = run(target, "describe", "trackway.tracking.v1.LoggedModel")
    assert "`m-` followed by 32 lowercase hex characters" in message
    eid = new_experiment(tracking_stub)
    body = json.dumps({"experiment_id": eid, "name": "from-grpcurl"})
    created = json.loads(run("-d", body, target, f"{SERVICE}/CreateLoggedModel"))
    assert created["model"]["name"] == "from-grpcurl"
    assert created["model"]["status"] == "LOGGED_MODEL_STATUS_PENDING"
