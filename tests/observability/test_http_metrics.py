"""HTTP metrics: every request counted by method, a bounded route label and its real
status; the request id in each response; /metrics itself in Prometheus' text format."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from email.message import Message

import pytest

from tests.observability.scrape import CONTENT_TYPE, scrape

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

MLFLOW = "/api/2.0/mlflow/"


def _call(
    url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    data = None if body is None else json.dumps(body).encode()
    sent = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_requests_are_counted_by_route_template_and_status(http_url: str, run_id: str) -> None:
    missing = uuid.uuid4().hex
    assert _call(f"{http_url}{MLFLOW}runs/get?run_id={run_id}")[0] == 200
    assert _call(f"{http_url}{MLFLOW}runs/get?run_id={missing}")[0] == 404
    assert _call(f"{http_url}{MLFLOW}experiments/create", "POST", {"name": ""})[0] == 400
    assert _call(f"{http_url}/v1/runs/{run_id}")[0] == 200
    assert _call(f"{http_url}/v1/runs/{missing}")[0] == 404
    assert _call(f"{http_url}/v1/runs:search", "POST", {"filter": "metrics.x <"})[0] == 400
    assert _call(f"{http_url}/no/such/{missing}")[0] == 404
    assert _call(f"{http_url}{MLFLOW}no-such-endpoint-{missing[:6]}")[0] == 404
    assert _call(f"{http_url}/health")[0] == 200

    found = scrape(http_url)
    count = "http_server_requests_total"
    assert found.value(count, method="GET", route=f"{MLFLOW}runs/get", status="200") == 1
    # A 404 is labeled by the prefix alone: the endpoint name came from the client.
    assert found.value(count, method="GET", route=f"{MLFLOW}*", status="404") == 2
    assert found.value(count, method="POST", route=f"{MLFLOW}experiments/create", status="400") == 1
    assert found.value(count, method="GET", route="/v1/runs/{run_id}", status="200") == 1
    assert found.value(count, method="GET", route="/v1/runs/{run_id}", status="404") == 1
    assert found.value(count, method="POST", route="/v1/runs:search", status="400") == 1
    assert found.value(count, method="GET", route="other", status="404") == 1
    assert found.value(count, method="GET", route="/health", status="200") == 1
    assert (
        found.value(
            "http_server_request_duration_seconds_count", method="GET", route="/v1/runs/{run_id}"
        )
        == 2
    )
    # No raw path, id or client-chosen name became a label.
    routes = found.label_values(count, "route")
    assert not any(run_id in r or missing[:6] in r for r in routes), routes
    assert found.value("trackway_http_server_in_flight") == 0
    # The /v1/ calls went through the server's own gRPC port, and were counted there too.
    assert found.value("grpc_server_handled_total", grpc_method="GetRun", grpc_code="OK") == 1
    assert (
        found.value("grpc_server_handled_total", grpc_method="GetRun", grpc_code="NOT_FOUND") == 1
    )


def test_metrics_endpoint_speaks_the_text_format(http_url: str) -> None:
    status, headers, body = _call(f"{http_url}/metrics")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE
    assert b"# TYPE grpc_server_handled_total counter" in body
    assert b"# TYPE grpc_server_handling_seconds histogram" in body
    # The scrape before this one is counted; a scrape is never "in flight" to itself.
    found = scrape(http_url)
    assert found.value("http_server_requests_total", route="/metrics", status="200") == 1
    assert found.value("trackway_http_server_in_flight") == 0


def test_each_response_carries_its_request_id(http_url: str, run_id: str) -> None:
    sent = f"client-{uuid.uuid4().hex}"
    for path in ("/health", f"{MLFLOW}runs/get?run_id={run_id}", f"/v1/runs/{run_id}"):
        _, headers, _ = _call(f"{http_url}{path}", headers={"x-request-id": sent})
        assert headers["x-request-id"] == sent, path
    # One id per response, even where the /v1/ transcoder echoes it as well.
    request = urllib.request.Request(f"{http_url}/v1/runs/{run_id}")
    with urllib.request.urlopen(request, timeout=10) as reply:
        made = reply.headers.get_all("x-request-id")
    assert len(made) == 1 and len(made[0]) == 32
    # An id that cannot travel as gRPC metadata is replaced, not echoed.
    _, headers, _ = _call(f"{http_url}/health", headers={"x-request-id": "x" * 500})
    assert headers["x-request-id"] != "x" * 500
