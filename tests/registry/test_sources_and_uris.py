"""Where a version's files may be, and what `models:/` and `runs:/` URIs resolve to.

The refused sources are the shapes of MLflow's local-file-inclusion CVEs
(reliability-security.md §1.1 B): CVE-2023-1177 (`source` at a local folder), its
bypasses CVE-2023-2780 (backslashes) and CVE-2023-2356 (relative `../` across schemes),
CVE-2024-1483/-2928/-3848 (`#` and `?` dropped by URL-to-path conversion),
CVE-2024-3573 (empty scheme and `file:` misread), and CVE-2026-2614 (a special tag
skipping validation). Each is refused at write time, and a location that is outside the
root when read is refused again.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from tests.registry.conftest import Api, create_model, create_version, new_run, version_tag
from tests.test_tracking_rpcs import INVALID, NOT_FOUND, PRECONDITION, assert_error
from trackway.errors import InvalidArgument
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_version_pb2 as mvpb
from trackway.registry import uris
from trackway.store.registry_schema import model_versions

# `{root}` is the server's artifact root (file:///...), `{run}` an existing run's id.
REFUSED_SOURCES = [
    "/etc/passwd",
    "/etc",
    "etc/passwd",
    "file:///etc",
    "file:///etc/passwd",
    "file:/etc/../..",
    "file://localhost/etc/passwd",
    "FILE:///etc",
    "http:///#/../../../../etc/",
    "http://h/x?../../etc",
    "https://example.com/model",
    "s3://b/../../",
    "s3://other-bucket/model",
    "mlflow-artifacts:/../../",
    "C:\\Windows\\System32",
    "\\\\server\\share\\model",
    "{root}",
    "{root}/",
    "{root}-evil/model",
    "{root}/../etc",
    "{root}/a/../../etc",
    "{root}/./model",
    "{root}//model",
    "{root}/%2e%2e/etc",
    "{root}/%252e%252e%252f/etc",
    "{root}/..%c0%af/etc",
    "{root}/a\\..\\..\\etc",
    "{root}/a#/../../etc",
    "{root}/a?x=/../../etc",
    "{root}/a;/../../etc",
    "{root}/a\x00b",
    "{root}/a\nb",
    "{root_upper}/model",
    "runs:/../etc",
    "runs://{run}/model",
    "runs:/{run}/../../../etc",
    "runs:/{run}/a/./b",
    "runs:/not-a-run/model",
    "models://m/1",
    "models:/../1",
    "models:/m/../../etc",
    "models:/m",
    "models:/m/1/extra",
    "models:/m/%31",
    "models:/m/0",
]


def _fill(text: str, api: Api, run_id: str) -> str:
    upper = api.root.replace("file://", "FILE://", 1)
    return text.replace("{root_upper}", upper).replace("{root}", api.root).replace("{run}", run_id)


@pytest.mark.parametrize("special_tags", [False, True], ids=["plain", "with-special-tags"])
def test_sources_outside_the_artifact_root_are_refused(api: Api, special_tags: bool) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    create_model(stub, "m")
    create_version(stub, "m", f"{run.artifact_uri}/model")
    # CVE-2026-2614: no tag switches validation off.
    tags = (
        [version_tag("mlflow.prompt.is_prompt", "true"), version_tag("mlflow.skip", "1")]
        if special_tags
        else []
    )
    for raw in REFUSED_SOURCES:
        source = _fill(raw, api, run.run_id)
        assert_error(lambda s=source: create_version(stub, "m", s, tags=tags), INVALID, "source")
    # None of them consumed a version number or left a version behind.
    assert create_version(stub, "m", f"{run.artifact_uri}/model").version == 2


def test_sources_below_the_artifact_root_are_accepted(api: Api) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    create_model(stub, "m")
    accepted = {
        f"{run.artifact_uri}/model": f"{run.artifact_uri}/model",
        f"{run.artifact_uri}/model/": f"{run.artifact_uri}/model/",
        f"{api.root}/registry/m/v1": f"{api.root}/registry/m/v1",
        f"{api.root}/with space/ünïcode": f"{api.root}/with space/ünïcode",
        f"runs:/{run.run_id}/model": f"{run.artifact_uri}/model",
        f"RUNS:/{run.run_id}/model/": f"{run.artifact_uri}/model",
        f"runs:/{run.run_id}": run.artifact_uri,
        "models:/m/1": f"{run.artifact_uri}/model",
    }
    for source, location in accepted.items():
        version = create_version(stub, "m", source)
        assert (version.source, version.storage_location) == (source, location)


def test_stored_locations_outside_the_root_are_refused_on_read(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    create_version(stub, "m", f"{api.root}/x")
    stub.SetRegisteredModelAlias(pb.SetRegisteredModelAliasRequest(name="m", alias="a", version=1))
    with api.server.store.engine.begin() as conn:
        conn.execute(update(model_versions).values(storage_location="file:///etc"))
    for uri in ("models:/m/1", "models:/m@a", "models:/m/latest", "models:/m/None"):
        assert_error(
            lambda u=uri: stub.ResolveModelUri(pb.ResolveModelUriRequest(uri=u)),
            PRECONDITION,
            says="refusing to serve",
        )
    # Copying the tampered version is refused too.
    assert_error(lambda: create_version(stub, "m", "models:/m/1"), PRECONDITION)


def test_resolve_every_uri_form(api: Api) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    create_model(stub, "churn")
    for path in ("a", "b", "c", "d"):
        create_version(stub, "churn", f"runs:/{run.run_id}/{path}")
    create_version(stub, "churn", f"{api.root}/no-run")  # v5, no run, stage None

    def move(version: int, stage: int) -> None:
        stub.TransitionModelVersionStage(
            pb.TransitionModelVersionStageRequest(name="churn", version=version, stage=stage)
        )

    move(2, mvpb.MODEL_VERSION_STAGE_PRODUCTION)
    move(3, mvpb.MODEL_VERSION_STAGE_STAGING)
    move(4, mvpb.MODEL_VERSION_STAGE_STAGING)
    stub.SetRegisteredModelAlias(
        pb.SetRegisteredModelAliasRequest(name="churn", alias="champion", version=2)
    )

    def resolve(uri: str) -> pb.ResolveModelUriResponse:
        return stub.ResolveModelUri(pb.ResolveModelUriRequest(uri=uri))

    base = run.artifact_uri
    cases = {
        "models:/churn/1": (f"{base}/a", 1, run.run_id),
        "models:/churn@champion": (f"{base}/b", 2, run.run_id),
        "models:/churn/Production": (f"{base}/b", 2, run.run_id),
        "models:/churn/staging": (f"{base}/d", 4, run.run_id),
        "models:/churn/None": (f"{api.root}/no-run", 5, ""),
        "models:/churn/latest": (f"{api.root}/no-run", 5, ""),
        "MODELS:/churn/LATEST": (f"{api.root}/no-run", 5, ""),
    }
    for uri, (location, version, run_id) in cases.items():
        found = resolve(uri)
        assert (found.artifact_uri, found.model_version.version, found.run_id) == (
            location,
            version,
            run_id,
        ), uri
        assert found.model_version.name == "churn"
    for uri, location in {
        f"runs:/{run.run_id}": base,
        f"runs:/{run.run_id}/": base,
        f"runs:/{run.run_id}/a/model.pkl": f"{base}/a/model.pkl",
    }.items():
        found = resolve(uri)
        assert (found.artifact_uri, found.run_id) == (location, run.run_id)
        assert not found.HasField("model_version")

    missing = {
        "models:/nope/1": "nope",
        "models:/churn/9": "no version 9",
        "models:/churn@ghost": "ghost",
        "models:/churn/Archived": "Archived",
        f"runs:/{uuid.uuid4().hex}/x": "does not exist",
    }
    for uri, words in missing.items():
        assert_error(lambda u=uri: resolve(u), NOT_FOUND, says=words)
    create_model(stub, "empty")
    assert_error(lambda: resolve("models:/empty/latest"), NOT_FOUND, says="no READY version")


MALFORMED_URIS = [
    ("", "required"),
    ("churn/1", "is not one of"),
    ("s3://bucket/model", "is not one of"),
    ("model:/churn/1", "is not one of"),
    ("models:churn/1", "must start with 'models:/'"),
    ("models://churn/1", "host part"),
    ("models:///churn/1", "host part"),
    ("models:/churn", "is not one of"),
    ("models:/churn/", "is not one of"),
    ("models:/churn/1/2", "is not one of"),
    ("models:/churn/production/x", "is not one of"),
    ("models:/churn/Prod", "not a version number, a stage"),
    ("models:/churn/0", "not a version number"),
    ("models:/churn/-1", "not a version number"),
    ("models:/churn/99999999999999999999", "not a version number"),
    ("models:/churn@", "alias is required"),
    ("models:/churn@latest", "reserved"),
    ("models:/churn@v2", "reserved"),
    ("models:/churn@a/b", "models:/<name>@<alias>"),
    ("models:/@champ", "model name is required"),
    ("models://@champ", "host part"),
    ("models:/bad name /1", "model name"),
    ("models:/churn/1?x=1", "must not contain '?'"),
    ("models:/churn/1#frag", "must not contain '#'"),
    ("models:/churn%2F1/1", "must not contain '%'"),
    ("runs:/", "is not a run id"),
    ("runs:/abc/model", "is not a run id"),
    ("runs://0123456789abcdef0123456789abcdef/x", "host part"),
    ("runs:/0123456789abcdef0123456789abcdef/../x", "'..'"),
    ("runs:/0123456789abcdef0123456789abcdef//x", "empty segments"),
    ("runs:/0123456789abcdef0123456789abcdef/a\\b", "must not contain"),
]


@pytest.mark.parametrize(("uri", "words"), MALFORMED_URIS, ids=[u for u, _ in MALFORMED_URIS])
def test_malformed_uris_are_refused_by_the_parser(uri: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        uris.parse(uri)
    assert [v.field for v in caught.value.violations] == ["uri"]
    assert words.lower() in caught.value.message.lower(), caught.value.message


def test_parsed_forms() -> None:
    run_id = "0123456789abcdef0123456789abcdef"
    assert uris.parse("models:/churn/3") == uris.ModelUri("churn", version=3)
    assert uris.parse("models:/churn@champ-1") == uris.ModelUri("churn", alias="champ-1")
    assert uris.parse("models:/churn/PRODUCTION") == uris.ModelUri("churn", stage="Production")
    assert uris.parse("models:/churn/Latest") == uris.ModelUri("churn", latest=True)
    assert uris.parse("models:/a.b c/1") == uris.ModelUri("a.b c", version=1)
    assert uris.parse(f"runs:/{run_id}") == uris.RunUri(run_id, "")
    assert uris.parse(f"runs:/{run_id}/a/b/") == uris.RunUri(run_id, "a/b")
    assert uris.is_registry_uri("Models:/x/1") and uris.is_registry_uri("runs:/x")
    assert not uris.is_registry_uri("file:///x") and not uris.is_registry_uri("/models:/x")


def test_malformed_uris_over_grpc_name_the_uri_field(api: Api) -> None:
    for uri, words in MALFORMED_URIS[:8]:
        assert_error(
            lambda u=uri: api.registry.ResolveModelUri(pb.ResolveModelUriRequest(uri=u)),
            INVALID,
            "uri",
            says=words,
        )
