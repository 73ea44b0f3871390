"""Real HTTP round trips through the transcoder, per service, on SQLite and PostgreSQL:
JSON bodies, path variables (including ones that span `/`), query parameters (repeated
keys too), page tokens, and the artifact bytes routes. What HTTP writes, gRPC reads."""

from __future__ import annotations

import hashlib
import logging
import socket
import time
import uuid

import pytest

from tests.transcoding.conftest import Api
from trackway.gen.registry.v1 import model_registry_service_pb2 as registry_pb
from trackway.gen.registry.v1.model_registry_service_pb2_grpc import ModelRegistryServiceStub
from trackway.gen.tracking.v1 import tracking_service_pb2 as tracking_pb
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _experiment(api: Api) -> str:
    created = api.ok("POST", "/v1/experiments", {"name": _unique("exp")})
    return str(created["experiment"]["experimentId"])


def _run(api: Api, experiment_id: str, name: str = "run") -> str:
    created = api.ok("POST", "/v1/runs", {"experimentId": experiment_id, "runName": name})
    return str(created["run"]["info"]["runId"])


def test_experiments_by_id_name_tags_and_lifecycle(api: Api) -> None:
    name = _unique("exp/with slash")
    tags = [{"key": "k", "value": "v"}]
    created = api.ok("POST", "/v1/experiments", {"name": name, "tags": tags})
    eid = created["experiment"]["experimentId"]
    assert created["experiment"]["lifecycleStage"] == "LIFECYCLE_STAGE_ACTIVE"
    assert api.ok("GET", f"/v1/experiments/{eid}")["experiment"]["name"] == name
    by_name = api.ok("GET", "/v1/experiments:getByName", params={"name": name})
    assert by_name["experiment"]["experimentId"] == eid
    api.ok("POST", f"/v1/experiments/{eid}/tags", {"tag": {"key": "team/owner", "value": "ml"}})
    api.ok("DELETE", f"/v1/experiments/{eid}/tags/team/owner")
    tags = api.ok("GET", f"/v1/experiments/{eid}")["experiment"]["tags"]
    assert tags == [{"key": "k", "value": "v"}]
    renamed = api.ok("PATCH", f"/v1/experiments/{eid}", {"name": name + "-2", "updateMask": "name"})
    assert renamed["experiment"]["name"] == name + "-2"
    api.ok("DELETE", f"/v1/experiments/{eid}", params={"requestId": "del-" + eid})
    assert api.ok("GET", f"/v1/experiments/{eid}")["experiment"]["lifecycleStage"] == (
        "LIFECYCLE_STAGE_DELETED"
    )
    api.ok("POST", f"/v1/experiments/{eid}:restore")
    found = api.ok("POST", "/v1/experiments:search", {"filter": f"name = '{name}-2'"})
    assert [e["experimentId"] for e in found["experiments"]] == [eid]
    assert found["nextPageToken"] == ""


def test_runs_log_and_read_back_over_http_and_grpc(api: Api) -> None:
    eid = _experiment(api)
    rid = _run(api, eid, "first")
    points = [
        {"key": "train/loss", "value": 1.0 / (s + 1), "timestamp": 1000 + s, "step": s}
        for s in range(25)
    ]
    api.ok(
        "POST",
        f"/v1/runs/{rid}:logBatch",
        {
            "metrics": points,
            "params": [{"key": "lr", "value": "0.01"}],
            "tags": [{"key": "stage", "value": "dev"}],
        },
    )
    api.ok("POST", f"/v1/runs/{rid}/metrics", {"metric": {"key": "acc", "value": "NaN", "step": 1}})
    api.ok("POST", f"/v1/runs/{rid}/params", {"param": {"key": "depth", "value": "6"}})
    api.ok("POST", f"/v1/runs/{rid}/tags", {"tag": {"key": "a/b", "value": "c"}})
    api.ok("DELETE", f"/v1/runs/{rid}/tags/a/b")
    api.ok(
        "POST",
        f"/v1/runs/{rid}/inputs",
        {"datasets": [{"dataset": {"name": "d", "digest": "x1", "sourceType": "local"}}]},
    )

    # A path variable spanning `/`, and paging through query parameters.
    steps: list[str] = []
    token = ""
    while True:
        params = {"pageSize": "10", **({"pageToken": token} if token else {})}
        page = api.ok("GET", f"/v1/runs/{rid}/metrics/train/loss", params=params)
        steps += page["points"]["steps"]
        token = page["nextPageToken"]
        if not token:
            break
    assert steps == [str(s) for s in range(25)]  # int64 travels as a string
    nan = api.ok("GET", f"/v1/runs/{rid}/metrics/acc")["points"]["values"]
    assert nan == ["NaN"]
    sampled = api.ok("GET", f"/v1/runs/{rid}/metrics/train/loss", params={"max_points": 4})
    assert 2 <= len(sampled["points"]["steps"]) <= 4

    other = _run(api, eid, "second")
    api.ok("POST", f"/v1/runs/{other}/metrics", {"metric": {"key": "train/loss", "value": 5}})
    bulk = api.ok(
        "GET",
        "/v1/runs:getMetricHistoryBulk",
        params=[("runIds", rid), ("runIds", other), ("metricKey", "train/loss")],
    )
    assert [h["runId"] for h in bulk["histories"]] == [rid, other]
    assert len(bulk["histories"][0]["points"]["steps"]) == 25

    finished = api.ok(
        "PATCH",
        f"/v1/runs/{rid}",
        {"status": "RUN_STATUS_FINISHED", "endTime": "2000", "updateMask": "status,endTime"},
    )
    assert finished["runInfo"]["status"] == "RUN_STATUS_FINISHED"
    assert finished["runInfo"]["endTime"] == "2000"

    # What HTTP wrote, gRPC reads.
    run = TrackingServiceStub(api.channel).GetRun(tracking_pb.GetRunRequest(run_id=rid)).run
    assert {p.key: p.value for p in run.data.params} == {"lr": "0.01", "depth": "6"}
    keys = {t.key for t in run.data.tags}
    assert "stage" in keys and "a/b" not in keys
    assert len(run.inputs.dataset_inputs) == 1

    api.ok("DELETE", f"/v1/runs/{other}")
    api.ok("POST", f"/v1/runs/{other}:restore")
    got = api.ok("GET", f"/v1/runs/{other}")["run"]["info"]
    assert got["lifecycleStage"] == "LIFECYCLE_STAGE_ACTIVE"


def test_search_runs_with_filter_order_and_page_tokens(api: Api) -> None:
    eid = _experiment(api)
    for i in range(7):
        rid = _run(api, eid, f"r{i}")
        api.ok("POST", f"/v1/runs/{rid}:logBatch", {"metrics": [{"key": "m", "value": i}]})
    query = {
        "experimentIds": [eid],
        "filter": "metrics.m >= 2 AND attributes.run_name != 'r6'",
        "orderBy": ["metrics.m DESC"],
        "pageSize": 2,
        "runView": "RUN_VIEW_INFO_ONLY",
    }
    names: list[str] = []
    token = ""
    while True:
        page = api.ok("POST", "/v1/runs:search", {**query, "pageToken": token})
        names += [r["info"]["runName"] for r in page["runs"]]
        assert all(r["data"] == {"metrics": [], "params": [], "tags": []} for r in page["runs"])
        token = page["nextPageToken"]
        if not token:
            break
    assert names == ["r5", "r4", "r3", "r2"]
    # A token pins its query.
    first = api.ok("POST", "/v1/runs:search", {**query})
    moved = api.call(
        "POST", "/v1/runs:search", {**query, "filter": "", "pageToken": first["nextPageToken"]}
    )
    assert moved.status_code == 400 and moved.json()["code"] == 3


def test_registry_models_versions_aliases_and_stages(api: Api) -> None:
    eid = _experiment(api)
    rid = _run(api, eid)
    name = _unique("model")
    created = api.ok(
        "POST", "/v1/registeredModels", {"name": name, "description": "d", "requestId": "c1"}
    )
    assert created["registeredModel"]["name"] == name
    version = api.ok(
        "POST", f"/v1/registeredModels/{name}/versions", {"source": f"runs:/{rid}/model"}
    )["modelVersion"]
    assert version["version"] == "1" and version["runId"] == rid
    api.ok("POST", f"/v1/registeredModels/{name}/aliases", {"alias": "champion", "version": 1})
    by_alias = api.ok("GET", f"/v1/registeredModels/{name}/aliases/champion")
    assert by_alias["modelVersion"]["version"] == "1"
    moved = api.ok(
        "POST",
        f"/v1/registeredModels/{name}/versions/1:transitionStage",
        {"stage": "MODEL_VERSION_STAGE_STAGING"},
    )
    assert moved["modelVersion"]["currentStage"] == "MODEL_VERSION_STAGE_STAGING"
    latest = api.ok(
        "GET",
        f"/v1/registeredModels/{name}/versions:latest",
        params=[("stages", "MODEL_VERSION_STAGE_STAGING"), ("stages", "MODEL_VERSION_STAGE_NONE")],
    )
    assert [v["version"] for v in latest["modelVersions"]] == ["1"]
    uri = api.ok("GET", f"/v1/registeredModels/{name}/versions/1:getDownloadUri")
    assert uri["artifactUri"].endswith(f"{rid}/artifacts/model")
    resolved = api.ok("GET", "/v1/modelUris:resolve", params={"uri": f"models:/{name}@champion"})
    assert resolved["artifactUri"] == uri["artifactUri"]
    lineage = api.ok("GET", f"/v1/runs/{rid}/modelVersions")
    assert [v["name"] for v in lineage["modelVersions"]] == [name]
    found = api.ok("POST", "/v1/modelVersions:search", {"filter": f"name = '{name}'"})
    assert len(found["modelVersions"]) == 1
    tag = {"tag": {"key": "k", "value": "v"}}
    api.ok("POST", f"/v1/registeredModels/{name}/versions/1/tags", tag)
    api.ok("DELETE", f"/v1/registeredModels/{name}/versions/1/tags/k")
    api.ok("DELETE", f"/v1/registeredModels/{name}/aliases/champion")
    stub = ModelRegistryServiceStub(api.channel)
    model = stub.GetRegisteredModel(registry_pb.GetRegisteredModelRequest(name=name))
    assert model.registered_model.description == "d"
    assert list(model.registered_model.aliases) == []
    api.ok("POST", f"/v1/registeredModels/{name}:rename", {"newName": name + "-b"})
    api.ok("DELETE", f"/v1/registeredModels/{name}-b")
    gone = api.call("GET", f"/v1/registeredModels/{name}-b")
    assert gone.status_code == 404


def test_artifacts_put_get_list_stat_delete(api: Api) -> None:
    eid = _experiment(api)
    rid = _run(api, eid)
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: several chunks
    digest = hashlib.sha256(data).hexdigest()
    stored = api.ok(
        "PUT",
        f"/v1/runs/{rid}/artifacts/model/weights.bin",
        data=data,
        headers={"X-Trackway-Sha256": digest},
    )
    assert stored["complete"] is True and stored["sha256"] == digest
    assert stored["file"] == {"path": "model/weights.bin", "isDir": False, "size": str(len(data))}
    got = api.call("GET", f"/v1/runs/{rid}/artifacts/model/weights.bin")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))
    part = api.call(
        "GET", f"/v1/runs/{rid}/artifacts/model/weights.bin", headers={"Range": "bytes=10-19"}
    )
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"

    # A chunked body without Content-Length, and a checksum that does not match.
    chunked = api.call(
        "PUT", f"/v1/runs/{rid}/artifacts/notes.txt", data=iter([b"hello ", b"world"])
    )
    assert chunked.status_code == 200, chunked.text
    wrong = api.call(
        "PUT",
        f"/v1/runs/{rid}/artifacts/bad.txt",
        data=b"x",
        headers={"X-Trackway-Sha256": "0" * 64},
    )
    # DATA_LOSS is 500 in the standard mapping; nothing was kept.
    assert wrong.status_code == 500 and wrong.json()["code"] == 15
    assert wrong.json()["details"][0]["reason"] == "CHECKSUM_MISMATCH"
    listed = api.ok("GET", f"/v1/runs/{rid}/artifacts")
    assert [f["path"] for f in listed["files"]] == ["model", "notes.txt"]
    inner = api.ok("GET", f"/v1/runs/{rid}/artifacts", params={"path": "model"})
    assert [f["path"] for f in inner["files"]] == ["model/weights.bin"]
    stat = api.ok("GET", f"/v1/runs/{rid}/artifacts:stat", params={"path": "notes.txt"})
    assert stat["file"]["size"] == "11"
    deleted = api.ok("DELETE", f"/v1/runs/{rid}/artifacts/model")
    assert deleted["deletedFiles"] == "1"
    assert api.call("GET", f"/v1/runs/{rid}/artifacts/model/weights.bin").status_code == 404

    # Experiments have the same routes; traversal is refused by the service's rules.
    api.ok("PUT", f"/v1/experiments/{eid}/artifacts/shared/readme.md", data=b"# hi")
    assert api.call("GET", f"/v1/experiments/{eid}/artifacts/shared/readme.md").content == b"# hi"
    listed = api.ok("GET", f"/v1/experiments/{eid}/artifacts", params={"path": "shared"})
    assert [f["path"] for f in listed["files"]] == ["shared/readme.md"]
    escape = api.call("GET", f"/v1/runs/{rid}/artifacts/..%2F..%2Fetc/passwd")
    assert escape.status_code == 400 and escape.json()["code"] == 3


def test_resumable_session_over_http(api: Api) -> None:
    rid = _run(api, _experiment(api))
    data = b"0123456789" * 1000
    session = api.ok(
        "POST",
        "/v1/uploadSessions",
        {"scope": {"runId": rid}, "path": "big.bin", "size": str(len(data))},
    )["sessionId"]
    first = api.ok("PUT", f"/v1/uploadSessions/{session}", params={"offset": 0}, data=data[:4000])
    assert first["complete"] is False and first["committedBytes"] == "4000"
    status = api.ok("GET", f"/v1/uploadSessions/{session}")
    assert status == {"committedBytes": "4000", "size": str(len(data)), "complete": False}
    stale = api.call("PUT", f"/v1/uploadSessions/{session}", params={"offset": 0}, data=b"x")
    assert stale.status_code == 400 and stale.json()["code"] == 9
    done = api.ok("PUT", f"/v1/uploadSessions/{session}", params={"offset": 4000}, data=data[4000:])
    assert done["complete"] is True
    assert api.call("GET", f"/v1/runs/{rid}/artifacts/big.bin").content == data


def test_a_client_leaving_mid_upload_keeps_nothing_and_logs_one_line(
    sqlite_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    rid = _run(sqlite_api, _experiment(sqlite_api))
    host, port = sqlite_api.url.removeprefix("http://").split(":")
    caplog.set_level(logging.INFO)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"PUT /v1/runs/{rid}/artifacts/half.bin HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
            + b"10000\r\n"
            + b"x" * 0x10000
            + b"\r\n"
        )
        time.sleep(0.3)  # the server has taken the first chunk
    deadline = time.monotonic() + 10
    while not any("left mid-upload" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the server did not notice the client leave"
        time.sleep(0.05)
    got = sqlite_api.call("GET", f"/v1/runs/{rid}/artifacts/half.bin")
    assert got.status_code == 404, (len(got.content), got.headers)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ]
