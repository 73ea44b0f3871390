"""The HTTP door with `--auth token`: MLflow's REST API, the artifact proxy, `/v1/`, the
UI and the plain paths, each refusing in its own error format."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.auth.conftest import Secured
from tests.observability.scrape import Scrape
from trackway.gen.admin.v1 import admin_service_pb2 as admin_pb
from trackway.gen.admin.v1 import permission_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


class Http:
    def __init__(self, base: str, token: str = "") -> None:
        self.base = base
        self.headers = {"authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture
def world(secured: Secured) -> dict[str, Any]:
    """Root's experiment with a run and a file; reader (READ), editor (EDIT), stranger."""
    root = secured.stubs(secured.tokens["root"])
    eid = root.tracking.CreateExperiment(pb.CreateExperimentRequest(name="x")).experiment
    run = root.tracking.CreateRun(pb.CreateRunRequest(experiment_id=eid.experiment_id)).run
    users = {
        "reader": permission_pb2.PERMISSION_READ,
        "editor": permission_pb2.PERMISSION_EDIT,
        "stranger": 0,
    }
    for name, level in users.items():
        secured.user(name)
        if level:
            root.admin.GrantExperimentPermission(
                admin_pb.GrantExperimentPermissionRequest(
                    experiment_id=eid.experiment_id, user_name=name, permission=level
                )
            )
    http = {name: Http(secured.http_url, token) for name, token in secured.tokens.items()}
    http["anonymous"] = Http(secured.http_url)
    path = f"{eid.experiment_id}/{run.info.run_id}/artifacts/notes.txt"
    assert http["root"]("PUT", f"{PROXY}/{path}", data=b"hello").status_code == 200
    return {"eid": eid.experiment_id, "run_id": run.info.run_id, "file": path, "http": http}


def test_mlflow_routes_refuse_in_mlflow_format(world: dict[str, Any]) -> None:
    http, eid, run_id = world["http"], world["eid"], world["run_id"]
    reply = http["anonymous"]("GET", f"{API}/experiments/get", params={"experiment_id": eid})
    assert reply.status_code == 401
    assert reply.json()["error_code"] == "UNAUTHENTICATED"
    assert reply.headers["www-authenticate"].startswith("Bearer")
    bad = Http(http["root"].base, "tw_nope")
    assert bad("GET", f"{API}/experiments/get", params={"experiment_id": eid}).status_code == 401

    assert http["reader"]("GET", f"{API}/runs/get", params={"run_id": run_id}).ok
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}],
    }
    reply = http["reader"]("POST", f"{API}/runs/log-batch", json=batch)
    assert reply.status_code == 403
    assert reply.json()["error_code"] == "PERMISSION_DENIED"
    # The body the gate read is handed on intact.
    assert http["editor"]("POST", f"{API}/runs/log-batch", json=batch).ok
    history = http["reader"](
        "GET", f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    ).json()
    assert [m["value"] for m in history["metrics"]] == [0.5]
    assert (
        http["editor"]("POST", f"{API}/experiments/delete", json={"experiment_id": eid}).status_code
        == 403
    )
    assert http["stranger"]("GET", f"{API}/runs/get", params={"run_id": run_id}).status_code == 403


def test_the_deprecated_run_uuid_field_is_checked_like_run_id(world: dict[str, Any]) -> None:
    http, run_id = world["http"], world["run_id"]
    body = {"run_uuid": run_id, "key": "k", "value": "v"}
    assert http["stranger"]("POST", f"{API}/runs/set-tag", json=body).status_code == 403
    assert http["editor"]("POST", f"{API}/runs/set-tag", json=body).ok


def test_mlflow_searches_show_only_what_the_caller_may_read(world: dict[str, Any]) -> None:
    http = world["http"]
    assert http["stranger"]("POST", f"{API}/experiments/create", json={"name": "mine"}).ok
    shown = http["stranger"]("POST", f"{API}/experiments/search", json={}).json()["experiments"]
    assert [e["name"] for e in shown] == ["mine"]
    assert http["stranger"]("POST", f"{API}/runs/search", json={}).json().get("runs", []) == []
    runs = http["reader"]("POST", f"{API}/runs/search", json={}).json()["runs"]
    assert [r["info"]["run_id"] for r in runs] == [world["run_id"]]
    # MLflow's set_experiment: get-by-name says "does not exist", then it creates.
    reply = http["stranger"](
        "GET", f"{API}/experiments/get-by-name", params={"experiment_name": "new"}
    )
    assert (reply.status_code, reply.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    reply = http["stranger"](
        "GET", f"{API}/experiments/get-by-name", params={"experiment_name": "x"}
    )
    assert reply.status_code == 403


def test_the_artifact_proxy_checks_the_scope_of_each_path(world: dict[str, Any]) -> None:
    http, path = world["http"], world["file"]
    assert http["reader"]("GET", f"{PROXY}/{path}").content == b"hello"
    folder = path.rsplit("/", 1)[0]
    listed = http["reader"]("GET", PROXY, params={"path": folder}).json()
    assert [f["path"] for f in listed["files"]] == ["notes.txt"]
    assert http["stranger"]("GET", f"{PROXY}/{path}").status_code == 403
    assert http["stranger"]("GET", PROXY, params={"path": folder}).status_code == 403
    assert http["anonymous"]("GET", f"{PROXY}/{path}").status_code == 401
    assert http["reader"]("PUT", f"{PROXY}/{folder}/new.txt", data=b"x").status_code == 403
    assert http["editor"]("PUT", f"{PROXY}/{folder}/new.txt", data=b"x").ok
    assert http["editor"]("DELETE", f"{PROXY}/{path}").status_code == 403
    assert http["root"]("DELETE", f"{PROXY}/{path}").ok
    reply = http["stranger"]("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{folder}",
                             json={"path": "big.bin", "num_parts": 1})  # fmt: skip
    assert reply.status_code == 403


def test_v1_routes_are_enforced_by_the_grpc_rules_behind_them(world: dict[str, Any]) -> None:
    http, eid, run_id = world["http"], world["eid"], world["run_id"]
    reply = http["anonymous"]("GET", f"/v1/experiments/{eid}")
    assert reply.status_code == 401
    body = reply.json()
    assert body["code"] == 16 and body["details"][0]["reason"] == "UNAUTHENTICATED"
    assert http["reader"]("GET", f"/v1/experiments/{eid}").json()["experiment"]["name"] == "x"
    reply = http["reader"](
        "POST", f"/v1/runs/{run_id}:logBatch", json={"params": [{"key": "p", "value": "1"}]}
    )
    assert reply.status_code == 403 and reply.json()["code"] == 7
    assert http["editor"](
        "POST", f"/v1/runs/{run_id}:logBatch", json={"params": [{"key": "p", "value": "1"}]}
    ).ok
    assert http["stranger"]("GET", f"/v1/runs/{run_id}/artifacts/notes.txt").status_code == 403
    assert http["reader"]("GET", f"/v1/runs/{run_id}/artifacts/notes.txt").content == b"hello"
    # The loopback call cannot be talked into trusting a client's claim.
    forged = {"authorization": "Trackway-Gateway 1:root:1:" + "0" * 64}
    assert http["anonymous"]("GET", f"/v1/experiments/{eid}", headers=forged).status_code == 401
    # The API description is public.
    assert http["anonymous"]("GET", "/v1/openapi.json").ok


def test_the_ui_and_probes_are_public_and_metrics_need_a_user(world: dict[str, Any]) -> None:
    anonymous, reader = world["http"]["anonymous"], world["http"]["reader"]
    for path in ("/", "/ui/js/api.js", "/ui/js/token.js", "/health", "/version"):
        assert anonymous("GET", path).ok, path
    assert anonymous("GET", "/metrics").status_code == 401
    assert reader("GET", "/metrics").ok


def test_refusals_are_measured_like_any_answer(world: dict[str, Any]) -> None:
    anonymous, reader = world["http"]["anonymous"], world["http"]["reader"]
    assert anonymous("GET", "/metrics").status_code == 401
    assert anonymous("GET", "/v1/experiments/1").status_code == 401
    refused = anonymous("GET", "/v1/runs/0123456789abcdef0123456789abcdef")
    assert refused.status_code == 401 and refused.headers["x-request-id"]
    scraped = reader("GET", "/metrics")
    found = Scrape(scraped.text, scraped.headers["content-type"])
    count = "http_server_requests_total"
    assert found.value(count, method="GET", route="/metrics", status="401") >= 1
    assert found.value(count, method="GET", route="/v1/experiments/{experiment_id}", status="401")
    assert found.value(count, method="GET", route="/v1/runs/{run_id}", status="401")


def test_routes_nothing_serves_are_for_admins_only(world: dict[str, Any]) -> None:
    http = world["http"]
    assert http["anonymous"]("GET", f"{API}/nothing/here").status_code == 401
    assert http["reader"]("GET", f"{API}/nothing/here").status_code == 403
    reply = http["root"]("GET", f"{API}/nothing/here")
    assert (reply.status_code, reply.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
