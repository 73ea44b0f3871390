"""The OpenAPI document: served, valid JSON with every route, typed as proto3 JSON,
described from the proto comments, and the committed copy is not stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.transcoding.conftest import Api
from trackway.rest.transcode import transcoded_bindings

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "trackway" / "gen" / "openapi.json"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_served_document_is_the_committed_one_with_every_route(sqlite_api: Api) -> None:
    reply = sqlite_api.call("GET", "/v1/openapi.json")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert document == json.loads(COMMITTED.read_text())
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for binding in transcoded_bindings():
        item = paths[binding.template.openapi_path()]
        assert binding.method.lower() in item, (binding.rpc, binding.template.source)
    for owner in ("runs/{run_id}", "experiments/{experiment_id}"):
        assert {"put", "get"} <= set(paths[f"/v1/{owner}/artifacts/{{path}}"])
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref


def test_schemas_follow_the_proto3_json_mapping_and_carry_the_comments() -> None:
    document = json.loads(COMMITTED.read_text())
    schemas = document["components"]["schemas"]
    experiment = schemas["trackway.tracking.v1.Experiment"]["properties"]
    assert experiment["creationTime"]["type"] == "string"  # int64
    assert experiment["creationTime"]["format"] == "int64"
    assert experiment["experimentId"]["type"] == "string"
    status = schemas["trackway.tracking.v1.RunStatus"]
    assert status["type"] == "string" and "RUN_STATUS_FINISHED" in status["enum"]
    search = schemas["trackway.tracking.v1.SearchRunsRequest"]["properties"]
    assert search["pageSize"]["type"] == "integer"
    assert "50,000" in search["pageSize"]["description"]
    assert search["experimentIds"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": search["experimentIds"]["description"],
    }
    mask = schemas["trackway.tracking.v1.UpdateRunRequest"]["properties"]["updateMask"]
    assert mask["type"] == "string"
    get_run = document["paths"]["/v1/runs/{run_id}"]["get"]
    assert "NOT_FOUND" in get_run["description"]
    assert get_run["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/google.rpc.Status"
    }
    history_op = document["paths"]["/v1/runs/{run_id}/metrics/{metric_key}"]["get"]
    params = {p["name"]: p for p in history_op["parameters"]}
    assert params["metric_key"]["in"] == "path" and params["pageToken"]["in"] == "query"
    assert "25,000" in params["pageSize"]["description"]
    bulk = document["paths"]["/v1/runs:getMetricHistoryBulk"]["get"]
    run_ids = next(p for p in bulk["parameters"] if p["name"] == "runIds")
    assert run_ids["schema"]["type"] == "array" and run_ids["explode"] is True


def test_the_committed_document_is_not_stale() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_openapi.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
