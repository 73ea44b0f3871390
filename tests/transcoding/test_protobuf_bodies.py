"""`application/x-protobuf` bodies and answers on the /v1/ routes: the same RPCs as JSON,
in protobuf's binary form, for clients that have the messages."""

from __future__ import annotations

from tests.transcoding.conftest import Api
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1.metric_pb2 import MetricColumns

PROTOBUF = "application/x-protobuf"


def _post(api: Api, path: str, message: object, accept: str = PROTOBUF) -> object:
    return api.call(
        "POST",
        path,
        data=message.SerializeToString(),  # type: ignore[attr-defined]
        headers={"Content-Type": PROTOBUF, "Accept": accept},
    )


def test_a_binary_request_gets_a_binary_answer(sqlite_api: Api) -> None:
    created = _post(sqlite_api, "/v1/experiments", pb.CreateExperimentRequest(name="binary"))
    assert created.status_code == 200 and created.headers["content-type"] == PROTOBUF
    experiment = pb.CreateExperimentResponse.FromString(created.content).experiment
    experiment_id = experiment.experiment_id
    run = _post(sqlite_api, "/v1/runs", pb.CreateRunRequest(experiment_id=experiment_id))
    run_id = pb.CreateRunResponse.FromString(run.content).run.info.run_id

    steps = list(range(10_000))
    columns = pb.LogColumnsRequest(
        # The path names the run; a different run_id in the body loses to it.
        run_id="f" * 32,
        metrics=[MetricColumns(key="loss", steps=steps, timestamps=steps, values=steps)],
    )
    logged = _post(sqlite_api, f"/v1/runs/{run_id}:logColumns", columns)
    assert logged.status_code == 200 and logged.content == b""

    # Without Accept, the answer is JSON, whatever the request's form.
    as_json = _post(sqlite_api, "/v1/runs:search", pb.SearchRunsRequest(), accept="*/*")
    assert as_json.headers["content-type"] == "application/json"
    history = sqlite_api.call(
        "GET", f"/v1/runs/{run_id}/metrics/loss", headers={"Accept": PROTOBUF}
    )
    points = pb.GetMetricHistoryResponse.FromString(history.content).points
    assert list(points.steps[:3]) == [0, 1, 2]


def test_binary_bodies_that_cannot_be_read_are_400(sqlite_api: Api) -> None:
    garbage = sqlite_api.call(
        "POST", "/v1/experiments", data=b"\xff\xff\xff", headers={"Content-Type": PROTOBUF}
    )
    assert garbage.status_code == 400
    assert "CreateExperimentRequest in protobuf's binary form" in garbage.json()["message"]
    on_get = sqlite_api.call(
        "GET", "/v1/experiments/1", data=b"\x08\x01", headers={"Content-Type": PROTOBUF}
    )
    assert on_get.status_code == 400 and "takes no body" in on_get.json()["message"]
