"""Every door's every route has a permission rule: the test that MLflow's auth app lacked.

It enumerates what the server really serves, not what the rule tables list:

- gRPC: every method of every service in the API's descriptor set, and every method of
  every service that a live server lists through reflection (health and reflection
  included), so a service registered later is caught too;
- HTTP: the gateway's MLflow route table, its logged-model routes with an id in the
  path, the artifact proxy (probed on a live server: a route is served when it answers
  anything but ENDPOINT_NOT_FOUND), the transcoder's `/v1/` routes, the UI's files,
  the plain paths (`/health`, `/version`, `/metrics`);
- the scoring server's routes.

A route without a rule fails here; at run time it is for admins only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import grpc
import pytest
import requests
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from trackway.artifacts.repos import open_repository
from trackway.artifacts.service import ArtifactService
from trackway.auth import http_rules, resources, rules
from trackway.auth.http_gate import route_rule
from trackway.auth.rules import Access, Kind
from trackway.config import ServerConfig
from trackway.registry.service import RegistryService
from trackway.rest import app as rest_app
from trackway.rest import openapi
from trackway.rest.logged_model_routes import LoggedModelRoutes
from trackway.rest.transcode import Transcoder, _import_generated
from trackway.rest.uris import ArtifactUris
from trackway.server.app import RunningServer, create_server
from trackway.serving import app as scoring_app
from trackway.serving import auth as scoring_auth
from trackway.store.logged_model_store import SqlLoggedModelStore
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.logged_models import LoggedModelService
from trackway.tracking.service import TrackingService
from trackway.ui.assets import UiAssets

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
PUBLIC_SERVICES = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with authentication off: it serves every route, so probing it shows
    which routes exist."""
    tmp = tmp_path_factory.mktemp("coverage")
    running = create_server(
        ServerConfig(
            grpc_port=0,
            http_port=0,
            backend_store_uri=f"sqlite:///{tmp / 'c.db'}",
            artifacts_destination=(tmp / "artifacts").as_uri(),
            threads=8,
            run_lease_sweep_seconds=0,
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlTrackingStore]:
    tmp = tmp_path_factory.mktemp("gateway")
    opened = SqlTrackingStore.open(
        f"sqlite:///{tmp / 'g.db'}", artifact_root=(tmp / "artifacts").as_uri()
    )
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def gateway(store: SqlTrackingStore) -> rest_app.Gateway:
    repo = open_repository(store.artifact_root)
    models = LoggedModelService(SqlLoggedModelStore.from_tracking(store))
    registry = RegistryService(SqlRegistryStore.from_tracking(store), store, models)
    return rest_app.create_app(
        TrackingService(store),
        registry,
        ArtifactService(store, repo),
        grpc_target="127.0.0.1:1",  # the transcoder's routes exist; nothing is called
    )


# gRPC


def test_every_method_of_the_api_descriptors_has_a_rule() -> None:
    files = openapi.descriptor_files()
    missing = [
        f"/{file.package}.{service.name}/{method.name}"
        for file in files
        for service in file.service
        for method in service.method
        if rules.rule_for(f"/{file.package}.{service.name}/{method.name}") is None
    ]
    assert missing == [], f"methods without a permission rule: {missing}"
    assert "trackway.admin.v1.AdminService" in openapi.api_services(files)


def test_every_method_a_live_server_serves_has_a_rule(open_server: RunningServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{open_server.port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        served = set(database.get_services())
        methods = [
            f"/{name}/{method.name}"
            for name in sorted(served)
            for method in pool.FindServiceByName(name).methods
        ]
    assert set(open_server.service_names) <= served
    assert served >= PUBLIC_SERVICES
    missing = [m for m in methods if rules.rule_for(m) is None]
    assert missing == [], f"served methods without a permission rule: {missing}"
    # Only health checks and reflection are open to callers without credentials.
    public = {m.split("/")[1] for m in methods if rules.RULES[m].access is Access.PUBLIC}
    assert public == PUBLIC_SERVICES


def test_the_rule_table_names_no_method_that_does_not_exist(open_server: RunningServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{open_server.port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        served = {
            f"/{name}/{method.name}"
            for name in database.get_services()
            for method in pool.FindServiceByName(name).methods
        }
    assert set(rules.RULES) - served == set()


def test_every_need_names_a_field_of_its_request() -> None:
    """A typo in a rule's field would fail at run time; here it fails at once."""
    from trackway.auth.interceptor import _walk

    for method, rule in rules.RULES.items():
        service, _, name = method.strip("/").partition("/")
        if service in PUBLIC_SERVICES:
            continue
        _import_generated(service)
        found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
        request = _message_class(found.input_type)()
        for need in rule.needs:
            if need.when:
                assert need.when in found.input_type.fields_by_name, (method, need)
            _walk(request, need.field)  # raises AttributeError for a bad path


def test_every_kind_of_need_can_be_resolved() -> None:
    assert set(resources._HANDLERS) == set(Kind)


# HTTP


def test_every_mlflow_endpoint_has_a_rule(gateway: rest_app.Gateway) -> None:
    served = set(gateway.mlflow_routes)
    assert served == set(http_rules.MLFLOW), (
        f"MLflow endpoints without a rule: {sorted(served - set(http_rules.MLFLOW))}; "
        f"rules for no endpoint: {sorted(set(http_rules.MLFLOW) - served)}"
    )
    for prefix in rest_app.API_PREFIXES:
        for method, tail in served:
            found, _, _ = route_rule(method, prefix + tail)
            assert found is http_rules.MLFLOW[(method, tail)]


def test_every_logged_model_endpoint_has_a_rule(store: SqlTrackingStore) -> None:
    routes = LoggedModelRoutes(
        LoggedModelService(SqlLoggedModelStore.from_tracking(store)),
        ArtifactUris(store.artifact_root),
    )
    tails = [
        "logged-models/m-0123456789abcdef0123456789abcdef" + rest
        for rest in ("", "/tags", "/params", "/tags/k", "/tags/a/b", "/params/x", "/x", "/x/y")
    ]
    served = [
        (method, tail)
        for method, tail in itertools.product(HTTP_METHODS, tails)
        if routes.route(method, tail) is not None
    ]
    assert len(served) == len(http_rules.MLFLOW_LOGGED_MODELS) + 1  # tags/a/b is tags/{key}
    for method, tail in served:
        for prefix in rest_app.API_PREFIXES:
            found, values, _ = route_rule(method, prefix + tail)
            assert found is not http_rules.UNKNOWN, (method, tail)
            assert values["model_id"] == "m-0123456789abcdef0123456789abcdef"


def test_every_route_of_the_artifact_proxy_has_a_rule(open_server: RunningServer) -> None:
    tails = [
        "artifacts",
        "artifacts/1/x.txt",
        "presigned/1/x.txt",
        "mpu/create/1/x",
        "mpu/complete/1/x",
        "mpu/abort/1/x",
        "mpu/parts/0123/1",
        "mpu/other/1/x",
        "mpu",
        "artifactz/1",
        "other",
    ]
    base = f"http://127.0.0.1:{open_server.http_port}"
    served = []
    for prefix, method, tail in itertools.product(rest_app.ARTIFACT_PREFIXES, HTTP_METHODS, tails):
        reply = requests.request(method, base + prefix + tail, json={}, timeout=30)
        code = reply.json().get("error_code") if method != "HEAD" and reply.content else None
        if not (reply.status_code == 404 and code == "ENDPOINT_NOT_FOUND") and method != "HEAD":
            served.append((method, prefix + tail))
    assert len(served) >= 2 * len(http_rules.PROXY)
    missing = [(m, p) for m, p in served if route_rule(m, p)[0] is http_rules.UNKNOWN]
    assert missing == [], f"artifact proxy routes without a rule: {missing}"


def test_every_native_route_is_enforced_through_a_grpc_rule() -> None:
    async def offload(*_: object) -> None:
        raise AssertionError("not called")

    transcoder = Transcoder("127.0.0.1:1", offload)
    rpc_routes = {b.template.source: b for b in transcoder.bindings}
    for route in transcoder.routes:
        found, _, door = route_rule(route.method, route.template.source)
        assert door == "native"
        binding = rpc_routes.get(route.template.source)
        if route.template.source == openapi.PATH:
            assert found is http_rules.OPENAPI
            continue
        assert found is http_rules.NATIVE
        if binding is not None:
            assert rules.rule_for(binding.grpc_path) is not None, binding.grpc_path
    # The streaming artifact routes call Upload and Download, which have rules too.
    for name in ("Upload", "Download"):
        assert rules.rule_for(f"/trackway.artifacts.v1.ArtifactService/{name}") is not None
    # The admin service is served over HTTP/JSON like the others.
    assert any(b.service == "trackway.admin.v1.AdminService" for b in transcoder.bindings)


def test_the_ui_and_plain_paths_have_rules() -> None:
    for path in UiAssets()._assets:
        for method in ("GET", "HEAD"):
            assert route_rule(method, path)[0] is http_rules.PUBLIC_UI, path
    plain = set(rest_app._PLAIN) | {"/metrics"}
    for path in plain:
        found, _, _ = route_rule("GET", path)
        assert found in (http_rules.PUBLIC_PROBE, http_rules.METRICS), path
    assert route_rule("GET", "/metrics")[0].rule.access is Access.AUTHENTICATED


def test_routes_that_nothing_serves_are_for_admins_only() -> None:
    for method, path in [
        ("GET", "/nothing"),
        ("POST", "/health"),
        ("GET", "/api/2.0/mlflow/runs/nothing"),
        ("DELETE", "/api/2.0/mlflow-artifacts/nothing"),
    ]:
        assert route_rule(method, path)[0] is http_rules.UNKNOWN


def test_every_route_of_the_scoring_server_has_a_rule() -> None:
    for _, path in scoring_app.ROUTES:
        assert path in scoring_auth.RULES, path
    assert scoring_auth.rule_for(scoring_app.INVOCATIONS) == scoring_auth.TOKEN
    assert scoring_auth.rule_for("/anything-else") == scoring_auth.TOKEN


def _message_class(descriptor: object) -> type:
    from google.protobuf.message_factory import GetMessageClass

    return GetMessageClass(descriptor)  # type: ignore[arg-type]
