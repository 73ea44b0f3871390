"""The http rules themselves: every RPC is reachable or documented, templates parse and
match as http.proto says, and no two routes can claim the same request."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackway.rest import openapi
from trackway.rest.http_rules import PathTemplate, TemplateError
from trackway.rest.transcode import Transcoder, transcoded_bindings


async def _unused_offload(*_: object) -> None:
    raise AssertionError("not called")


def _methods() -> list[tuple[str, str, bool]]:
    """(service, rpc, streaming) of every method of every service of the API."""
    services = set(openapi.api_services(openapi.descriptor_files()))
    found = []
    for file in openapi.descriptor_files():
        for service in file.service:
            name = f"{file.package}.{service.name}"
            if name in services:
                for method in service.method:
                    streaming = method.client_streaming or method.server_streaming
                    found.append((name, method.name, streaming))
    return found


def test_every_unary_rpc_has_an_http_rule_and_every_stream_is_documented() -> None:
    bound = {(b.service, b.rpc) for b in transcoded_bindings()}
    comments = openapi.comments(openapi.descriptor_files())
    methods = _methods()
    assert {s for s, _, _ in methods} >= {
        "trackway.tracking.v1.TrackingService",
        "trackway.artifacts.v1.ArtifactService",
        "trackway.registry.v1.ModelRegistryService",
    }
    missing, undocumented = [], []
    for service, rpc, streaming in methods:
        if not streaming:
            if (service, rpc) not in bound:
                missing.append(f"{service}.{rpc}")
            continue
        assert (service, rpc) not in bound, f"{rpc} streams: proto3 JSON cannot transcode it"
        text = comments[f"{service}.{rpc}"]
        if "gRPC-only" not in text and "HTTP form:" not in text:
            undocumented.append(f"{service}.{rpc}")
    assert not missing, f"unary RPCs without a google.api.http rule: {missing}"
    assert not undocumented, f"streams neither gRPC-only nor with an HTTP form: {undocumented}"


def test_the_documented_http_forms_are_routed() -> None:
    comments = openapi.comments(openapi.descriptor_files())
    transcoder = Transcoder("127.0.0.1:1", _unused_offload)
    transcoder.channel.close()
    routes = {(r.method, r.template.source) for r in transcoder.routes}
    documented = {
        rpc
        for service, rpc, streaming in _methods()
        if streaming and "HTTP form:" in comments[f"{service}.{rpc}"]
    }
    assert documented == {"Upload", "Download"}
    assert ("PUT", "/v1/runs/{run_id}/artifacts/{path=**}") in routes
    assert ("GET", "/v1/runs/{run_id}/artifacts/{path=**}") in routes
    assert ("PUT", "/v1/experiments/{experiment_id}/artifacts/{path=**}") in routes
    assert ("PUT", "/v1/uploadSessions/{session_id}") in routes


def test_templates_follow_the_http_proto_grammar() -> None:
    t = PathTemplate.parse("/v1/runs/{run_id}/metrics/{metric_key=**}")
    assert t.match("/v1/runs/abc/metrics/train/loss") == {
        "run_id": "abc",
        "metric_key": "train/loss",
    }
    assert t.match("/v1/runs/abc/metrics/a%20b/c%3Ad") == {"run_id": "abc", "metric_key": "a b/c:d"}
    assert t.match("/v1/runs//metrics/x") is None
    assert t.match("/v1/run/abc/metrics/x") is None
    verb = PathTemplate.parse("/v1/runs/{run_id}:logBatch")
    assert verb.verb == "logBatch"
    assert verb.match("/v1/runs/abc:logBatch") == {"run_id": "abc"}
    assert verb.match("/v1/runs/abc") is None
    assert verb.match("/v1/runs/abc:other") is None
    nested = PathTemplate.parse("/v1/runs/{scope.run_id}/artifacts:stat")
    assert nested.match("/v1/runs/r%2F1/artifacts:stat") == {"scope.run_id": "r/1"}
    assert nested.openapi_path() == "/v1/runs/{scope.run_id}/artifacts:stat"
    spanning = PathTemplate.parse("/v1/{name=projects/*/models/*}:get")
    assert spanning.match("/v1/projects/p/models/m:get") == {"name": "projects/p/models/m"}
    for bad in ("v1/x", "/v1/{a=**}/b", "/v1/{1bad}", "/v1/{open", "/v1/a?b"):
        with pytest.raises(TemplateError):
            PathTemplate.parse(bad)


def _sample_path(template: PathTemplate) -> str:
    values = {v.field_path: "segment" for v in template.variables}
    parts: list[str] = []
    spans = {v.start: v for v in template.variables}
    i = 0
    while i < len(template.segments):
        variable = spans.get(i)
        if variable is not None:
            width = 2 if variable.end is None else variable.end - variable.start
            parts.extend([values[variable.field_path]] * width)
            i = len(template.segments) if variable.end is None else variable.end
        else:
            parts.append(template.segments[i] if template.segments[i] not in "**" else "x")
            i += 1
    return "/" + "/".join(parts) + (":" + template.verb if template.verb else "")


def test_each_route_is_the_one_chosen_for_its_own_paths() -> None:
    transcoder = Transcoder("127.0.0.1:1", _unused_offload)
    try:
        for route in transcoder.routes:
            path = _sample_path(route.template)
            chosen, _ = transcoder._match(route.method, path)
            assert chosen is route, (route.method, route.template.source, path)
    finally:
        transcoder.channel.close()


def test_paths_are_resource_style_below_v1() -> None:
    for binding in transcoded_bindings():
        source = binding.template.source
        assert source.startswith("/v1/"), source
        if binding.method in ("GET", "DELETE"):
            assert binding.body == "", f"{binding.rpc}: {binding.method} takes no body"
        else:
            assert binding.body == "*", f"{binding.rpc}: {binding.method} takes the whole body"


def test_the_docs_list_every_route() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "http-api.md").read_text()
    for binding in transcoded_bindings():
        assert f"`{binding.method} {binding.template.source}`" in doc, binding.rpc
