"""Registered model RPCs over gRPC, on SQLite and PostgreSQL: happy paths and every
documented error (code, ErrorInfo reason, message words, BadRequest field)."""

from __future__ import annotations

import unicodedata

from google.protobuf import field_mask_pb2

from tests.registry.conftest import (
    ABORTED,
    Api,
    create_model,
    create_version,
    get_model,
    get_version,
    model_tag,
    tags_of,
    unique,
)
from tests.test_tracking_rpcs import EXISTS, INVALID, NOT_FOUND, assert_error
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_version_pb2 as mvpb


def source(api: Api, path: str = "models/m") -> str:
    return f"{api.root}/{path}"


def test_create_and_get_registered_model(api: Api) -> None:
    stub = api.registry
    created = create_model(
        stub, "fraud", description="scores", tags=[model_tag("team", "risk"), model_tag("a", "1")]
    )
    assert created.name == "fraud"
    assert created.description == "scores"
    assert created.creation_timestamp > 0
    assert created.last_updated_timestamp == created.creation_timestamp
    assert [(t.key, t.value) for t in created.tags] == [("a", "1"), ("team", "risk")]
    assert list(created.aliases) == [] and list(created.latest_versions) == []
    assert get_model(stub, "fraud") == created


def test_create_registered_model_errors(api: Api) -> None:
    stub = api.registry
    create_model(stub, "taken")
    assert_error(lambda: create_model(stub, "taken"), EXISTS, says="taken")
    assert_error(lambda: create_model(stub, ""), INVALID, "name", says="required")
    for bad in ("a/b", "my%2Dmodel", "x@y", "m:1", " lead", "trail ", "-dash", "tab\tname", "."):
        assert_error(lambda bad=bad: create_model(stub, bad), INVALID, "name")
    assert_error(lambda: create_model(stub, "x" * 257), INVALID, "name", says="at most 256")
    assert_error(
        lambda: create_model(stub, unique(), description="d" * 5001),
        INVALID,
        "description",
        says="at most 5000",
    )
    assert_error(
        lambda: create_model(stub, unique(), tags=[model_tag("../x", "v")]), INVALID, "tags[0].key"
    )
    assert_error(
        lambda: create_model(stub, unique(), tags=[model_tag("k", "v" * 5001)]),
        INVALID,
        "tags[0].value",
    )
    assert_error(lambda: create_model(stub, unique(), request_id="bad id!"), INVALID, "request_id")


def test_names_are_canonical_so_one_name_cannot_be_spelled_twice(api: Api) -> None:
    """CVE-2024-3099: two spellings of one name must not be two models."""
    stub = api.registry
    composed = unicodedata.normalize("NFC", "modèle")
    decomposed = unicodedata.normalize("NFD", "modèle")
    assert composed != decomposed
    create_model(stub, decomposed)
    assert get_model(stub, composed).name == composed
    assert_error(lambda: create_model(stub, composed), EXISTS)
    # Percent-escapes are never decoded, so `my%2Dmodel` cannot alias `my-model`.
    create_model(stub, "my-model")
    assert_error(lambda: create_model(stub, "my%2Dmodel"), INVALID, "name")
    assert_error(lambda: get_model(stub, "my%2Dmodel"), INVALID, "name")
    # Case is significant, as in MLflow.
    assert create_model(stub, "My-Model").name == "My-Model"


def test_get_registered_model_errors(api: Api) -> None:
    assert_error(lambda: get_model(api.registry, "nope"), NOT_FOUND, says="nope")
    assert_error(lambda: get_model(api.registry, ""), INVALID, "name")


def test_rename_registered_model_carries_versions_tags_and_aliases(api: Api) -> None:
    stub = api.registry
    create_model(stub, "old", tags=[model_tag("k", "v")])
    create_version(stub, "old", source(api))
    stub.SetRegisteredModelAlias(
        pb.SetRegisteredModelAliasRequest(name="old", alias="champ", version=1)
    )
    renamed = stub.RenameRegisteredModel(
        pb.RenameRegisteredModelRequest(name="old", new_name="new")
    ).registered_model
    assert renamed.name == "new"
    assert tags_of(renamed) == {"k": "v"}
    assert [(a.alias, a.version) for a in renamed.aliases] == [("champ", 1)]
    assert renamed.last_updated_timestamp > renamed.creation_timestamp
    assert get_version(stub, "new", 1).name == "new"
    assert_error(lambda: get_model(stub, "old"), NOT_FOUND)
    assert_error(lambda: get_version(stub, "old", 1), NOT_FOUND)
    # The counter moved with the model.
    assert create_version(stub, "new", source(api)).version == 2
    # Renaming to the current name changes nothing.
    same = stub.RenameRegisteredModel(pb.RenameRegisteredModelRequest(name="new", new_name="new"))
    assert same.registered_model.name == "new"


def test_rename_registered_model_errors(api: Api) -> None:
    stub = api.registry
    create_model(stub, "one")
    create_model(stub, "two")

    def rename(name: str, new_name: str) -> None:
        stub.RenameRegisteredModel(pb.RenameRegisteredModelRequest(name=name, new_name=new_name))

    assert_error(lambda: rename("one", "two"), EXISTS, says="two")
    assert_error(lambda: rename("missing", "three"), NOT_FOUND, says="missing")
    assert_error(lambda: rename("one", ""), INVALID, "new_name")
    assert_error(lambda: rename("one", "bad/name"), INVALID, "new_name")


def test_update_registered_model_description(api: Api) -> None:
    stub = api.registry
    model = create_model(stub, "m", description="first")

    def update(**kw: object) -> object:
        return stub.UpdateRegisteredModel(pb.UpdateRegisteredModelRequest(name="m", **kw))

    after = update(description="second").registered_model
    assert after.description == "second"
    assert after.last_updated_timestamp > model.last_updated_timestamp
    masked = update(
        description="third", update_mask=field_mask_pb2.FieldMask(paths=["description"])
    ).registered_model
    assert masked.description == "third"
    # The precondition: the timestamp just read passes, a stale one is ABORTED.
    current = masked.last_updated_timestamp
    fresh = update(description="fourth", expected_last_updated_timestamp=current)
    assert fresh.registered_model.description == "fourth"
    details = assert_error(
        lambda: update(description="lost", expected_last_updated_timestamp=current),
        ABORTED,
        says="changed since it was read",
    )
    assert details.metadata["last_updated_timestamp"] == str(
        fresh.registered_model.last_updated_timestamp
    )
    assert get_model(stub, "m").description == "fourth"
    # An empty description clears it.
    assert update(description="").registered_model.description == ""


def test_update_registered_model_errors(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")

    def update(**kw: object) -> object:
        return stub.UpdateRegisteredModel(pb.UpdateRegisteredModelRequest(**kw))

    assert_error(lambda: update(name="nope", description="x"), NOT_FOUND)
    assert_error(
        lambda: update(name="m", update_mask=field_mask_pb2.FieldMask(paths=["name"])),
        INVALID,
        "update_mask",
    )
    assert_error(lambda: update(name="m", description="d" * 5001), INVALID, "description")
    assert_error(
        lambda: update(name="m", expected_last_updated_timestamp=-1),
        INVALID,
        "expected_last_updated_timestamp",
    )


def test_delete_registered_model_cascades(api: Api) -> None:
    stub = api.registry
    create_model(stub, "gone", tags=[model_tag("k", "v")])
    for _ in range(3):
        create_version(stub, "gone", source(api), tags=[mvpb.ModelVersionTag(key="t", value="x")])
    stub.SetRegisteredModelAlias(
        pb.SetRegisteredModelAliasRequest(name="gone", alias="a", version=2)
    )
    stub.DeleteRegisteredModel(pb.DeleteRegisteredModelRequest(name="gone"))
    assert_error(lambda: get_model(stub, "gone"), NOT_FOUND)
    assert_error(lambda: get_version(stub, "gone", 1), NOT_FOUND)
    left = stub.SearchModelVersions(pb.SearchModelVersionsRequest(filter="name = 'gone'"))
    assert list(left.model_versions) == []
    # The name is free again, and the new model starts counting from 1 with no leftovers.
    fresh = create_model(stub, "gone")
    assert list(fresh.tags) == [] and list(fresh.aliases) == []
    assert create_version(stub, "gone", source(api)).version == 1
    assert_error(
        lambda: stub.DeleteRegisteredModel(pb.DeleteRegisteredModelRequest(name="never")),
        NOT_FOUND,
    )


def test_registered_model_tags(api: Api) -> None:
    stub = api.registry
    model = create_model(stub, "m")

    def set_tag(name: str, key: str, value: str) -> None:
        stub.SetRegisteredModelTag(
            pb.SetRegisteredModelTagRequest(name=name, tag=model_tag(key, value))
        )

    def delete_tag(name: str, key: str) -> None:
        stub.DeleteRegisteredModelTag(pb.DeleteRegisteredModelTagRequest(name=name, key=key))

    set_tag("m", "stage", "dev")
    set_tag("m", "stage", "prod")
    set_tag("m", "owner", "ana")
    after = get_model(stub, "m")
    assert tags_of(after) == {"owner": "ana", "stage": "prod"}
    assert after.last_updated_timestamp > model.last_updated_timestamp
    delete_tag("m", "stage")
    assert tags_of(get_model(stub, "m")) == {"owner": "ana"}

    assert_error(lambda: set_tag("nope", "k", "v"), NOT_FOUND)
    assert_error(lambda: set_tag("m", "", "v"), INVALID, "tag.key")
    assert_error(lambda: set_tag("m", "/abs", "v"), INVALID, "tag.key")
    assert_error(lambda: set_tag("m", "k", "v" * 5001), INVALID, "tag.value")
    assert_error(lambda: delete_tag("m", "stage"), NOT_FOUND, says="stage")
    assert_error(lambda: delete_tag("nope", "owner"), NOT_FOUND)
    assert_error(lambda: delete_tag("m", "a/../b"), INVALID, "key")


def test_get_latest_versions_per_stage(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    for _ in range(5):
        create_version(stub, "m", source(api))

    def move(version: int, stage: int) -> None:
        stub.TransitionModelVersionStage(
            pb.TransitionModelVersionStageRequest(name="m", version=version, stage=stage)
        )

    move(1, mvpb.MODEL_VERSION_STAGE_PRODUCTION)
    move(2, mvpb.MODEL_VERSION_STAGE_PRODUCTION)
    move(3, mvpb.MODEL_VERSION_STAGE_STAGING)
    move(4, mvpb.MODEL_VERSION_STAGE_ARCHIVED)

    def latest(*stages: int) -> list[tuple[int, int]]:
        reply = stub.GetLatestVersions(pb.GetLatestVersionsRequest(name="m", stages=stages))
        return [(v.version, v.current_stage) for v in reply.model_versions]

    assert latest() == [
        (5, mvpb.MODEL_VERSION_STAGE_NONE),
        (3, mvpb.MODEL_VERSION_STAGE_STAGING),
        (2, mvpb.MODEL_VERSION_STAGE_PRODUCTION),
        (4, mvpb.MODEL_VERSION_STAGE_ARCHIVED),
    ]
    assert latest(mvpb.MODEL_VERSION_STAGE_PRODUCTION) == [(2, mvpb.MODEL_VERSION_STAGE_PRODUCTION)]
    assert [v.version for v in get_model(stub, "m").latest_versions] == [5, 3, 2, 4]
    create_model(stub, "empty")
    assert (
        list(stub.GetLatestVersions(pb.GetLatestVersionsRequest(name="empty")).model_versions) == []
    )

    assert_error(
        lambda: stub.GetLatestVersions(pb.GetLatestVersionsRequest(name="nope")), NOT_FOUND
    )
    assert_error(
        lambda: stub.GetLatestVersions(
            pb.GetLatestVersionsRequest(name="m", stages=[mvpb.MODEL_VERSION_STAGE_STAGING, 0])
        ),
        INVALID,
        "stages[1]",
    )


def test_idempotent_create_and_reused_request_id(api: Api) -> None:
    stub = api.registry
    request = pb.CreateRegisteredModelRequest(name="retry", request_id="req-create-1")
    first = stub.CreateRegisteredModel(request).registered_model
    again = stub.CreateRegisteredModel(request).registered_model
    assert first == again
    assert_error(
        lambda: stub.DeleteRegisteredModel(
            pb.DeleteRegisteredModelRequest(name="retry", request_id="req-create-1")
        ),
        INVALID,
        "request_id",
        says="already used",
    )
    delete = pb.DeleteRegisteredModelRequest(name="retry", request_id="req-delete-1")
    stub.DeleteRegisteredModel(delete)
    stub.DeleteRegisteredModel(delete)  # answered from the first attempt, not NOT_FOUND
