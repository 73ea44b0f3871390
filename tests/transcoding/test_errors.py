"""Errors over HTTP: gRPC codes as HTTP statuses, google.rpc.Status bodies with the
details the gRPC status carried, and 400s that say what to fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from tests.transcoding.conftest import Api, start
from trackway.rest.transcode_errors import HTTP_STATUS, http_status


def _reasons(answer: dict[str, Any]) -> list[str]:
    return [d["reason"] for d in answer["details"] if "reason" in d]


def _violations(answer: dict[str, Any]) -> list[str]:
    bad = [d for d in answer["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return [v["field"] for d in bad for v in d["fieldViolations"]]


def test_the_code_to_status_mapping_is_the_standard_one() -> None:
    expected = {
        "OK": 200,
        "INVALID_ARGUMENT": 400,
        "FAILED_PRECONDITION": 400,
        "OUT_OF_RANGE": 400,
        "UNAUTHENTICATED": 401,
        "PERMISSION_DENIED": 403,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "ABORTED": 409,
        "RESOURCE_EXHAUSTED": 429,
        "CANCELLED": 499,
        "UNIMPLEMENTED": 501,
        "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504,
        "UNKNOWN": 500,
        "INTERNAL": 500,
        "DATA_LOSS": 500,
    }
    for name, status in expected.items():
        assert http_status(grpc.StatusCode[name].value[0]) == status, name
    assert len(HTTP_STATUS) == 14


def test_service_errors_keep_their_code_and_details(api: Api) -> None:
    missing = api.call("GET", "/v1/experiments/424242")
    assert missing.status_code == 404
    assert missing.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert _reasons(missing.json()) == ["RESOURCE_DOES_NOT_EXIST"]
    assert missing.json()["details"][0]["domain"] == "trackway.dev"

    invalid = api.call("POST", "/v1/experiments", {"name": ""})
    assert invalid.status_code == 400 and invalid.json()["code"] == 3
    assert _violations(invalid.json()) == ["name"]

    api.ok("POST", "/v1/experiments", {"name": "taken"})
    taken = api.call("POST", "/v1/experiments", {"name": "taken"})
    assert taken.status_code == 409 and taken.json()["code"] == 6

    eid = api.ok("GET", "/v1/experiments:getByName", params={"name": "taken"})["experiment"][
        "experimentId"
    ]
    active = api.call("POST", f"/v1/experiments/{eid}:purge")
    assert active.status_code == 400 and active.json()["code"] == 9
    assert _reasons(active.json()) == ["INVALID_STATE"]

    api.ok("POST", "/v1/registeredModels", {"name": "m"})
    stale = api.call(
        "PATCH", "/v1/registeredModels/m", {"description": "x", "expectedLastUpdatedTimestamp": 1}
    )
    assert stale.status_code == 409 and stale.json()["code"] == 10
    info = stale.json()["details"][0]
    assert info["reason"] == "RESOURCE_CONFLICT" and "last_updated_timestamp" in info["metadata"]

    bad_filter = api.call("POST", "/v1/runs:search", {"filter": "metrics.loss <"})
    assert bad_filter.status_code == 400 and _violations(bad_filter.json()) == ["filter"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "fragment"),
    [
        ("POST", "/v1/experiments", {"data": b"{not json"}, "not valid JSON"),
        ("POST", "/v1/experiments", {"json": [1, 2]}, "must be a JSON object"),
        ("POST", "/v1/experiments", {"json": {"nmae": "x"}}, 'no field named "nmae"'),
        ("POST", "/v1/experiments:search", {"json": {"pageSize": "ten"}}, "pageSize"),
        ("GET", "/v1/experiments/1", {"params": {"bogus": "1"}}, "unknown query parameter 'bogus'"),
        ("GET", "/v1/experiments/1", {"params": {"experimentId": "2"}}, "set by the path"),
        ("POST", "/v1/runs:search", {"params": {"filter": "x"}, "json": {}}, "query string"),
        ("GET", "/v1/experiments/1", {"data": b'{"a": 1}'}, "takes no body"),
        ("GET", "/v1/registeredModels/m/versions/abc", {}, "path variable {version}"),
        ("GET", "/v1/modelUris:resolve", {"params": {"uri.x": "1"}}, "unknown query parameter"),
        ("PUT", "/v1/runs/r/artifacts/a.txt", {"params": {"offset": "5"}}, "takes none"),
        ("GET", "/v1/experiments/1/artifacts/a", {"params": {"x": "1"}}, "unknown query"),
    ],
)
def test_malformed_requests_are_400_saying_what_to_fix(
    sqlite_api: Api, method: str, path: str, kwargs: dict[str, Any], fragment: str
) -> None:
    reply = sqlite_api.call(method, path, **kwargs)
    assert reply.status_code == 400, reply.text
    answer = reply.json()
    assert answer["code"] == 3 and fragment in answer["message"], answer
    assert _reasons(answer) == ["MALFORMED_REQUEST"]


def test_unknown_routes_are_404_and_wrong_methods_405(sqlite_api: Api) -> None:
    missing = sqlite_api.call("GET", "/v1/no/such/thing")
    assert missing.status_code == 404
    assert missing.json()["code"] == 5 and _reasons(missing.json()) == ["ENDPOINT_NOT_FOUND"]
    wrong = sqlite_api.call("PUT", "/v1/experiments/1")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "DELETE, GET, PATCH"
    assert wrong.json()["code"] == 12


def test_request_ids_are_echoed_or_made(sqlite_api: Api) -> None:
    given = sqlite_api.call("GET", "/v1/experiments/1", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = sqlite_api.call("GET", "/v1/experiments/1")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_the_mlflow_routes_still_answer_beside_v1(sqlite_api: Api) -> None:
    assert sqlite_api.call("GET", "/health").text == "OK"
    reply = sqlite_api.call("GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    assert reply.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_body_over_the_message_limit_is_413(tmp_path: Path) -> None:
    running = start(f"sqlite:///{tmp_path / 'db'}", (tmp_path / "a").as_uri(), max_message_mb=1)
    try:
        url = f"http://127.0.0.1:{running.http_port}/v1/experiments"
        reply = requests.post(url, data=b"{" + b" " * (2 << 20) + b"}", timeout=60)
        assert reply.status_code == 413 and reply.json()["code"] == 8
    finally:
        running.stop(grace=1.0)
