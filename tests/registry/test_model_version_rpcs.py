"""Model version, alias and lineage RPCs over gRPC, on SQLite and PostgreSQL: happy paths
and every documented error (code, ErrorInfo reason, message words, BadRequest field)."""

from __future__ import annotations

import uuid

from google.protobuf import field_mask_pb2
from sqlalchemy import update

from tests.registry.conftest import (
    ABORTED,
    Api,
    create_model,
    create_version,
    get_model,
    get_version,
    new_run,
    tags_of,
    version_tag,
)
from tests.test_tracking_rpcs import INVALID, NOT_FOUND, PRECONDITION, assert_error
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_version_pb2 as mvpb
from trackway.gen.tracking.v1 import metric_pb2
from trackway.gen.tracking.v1 import run_pb2 as rpb
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.store.registry_schema import model_versions

NONE = mvpb.MODEL_VERSION_STAGE_NONE
STAGING = mvpb.MODEL_VERSION_STAGE_STAGING
PRODUCTION = mvpb.MODEL_VERSION_STAGE_PRODUCTION
ARCHIVED = mvpb.MODEL_VERSION_STAGE_ARCHIVED


def test_create_model_version_from_a_run(api: Api) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    model = create_model(stub, "m")
    version = create_version(
        stub,
        "m",
        f"{run.artifact_uri}/model",
        run_id=run.run_id,
        run_link="https://tracking.example.com/#/runs/1",
        description="first cut",
        tags=[version_tag("data", "v1")],
    )
    assert (version.name, version.version) == ("m", 1)
    assert version.source == version.storage_location == f"{run.artifact_uri}/model"
    assert version.run_id == run.run_id
    assert version.run_link == "https://tracking.example.com/#/runs/1"
    assert version.description == "first cut"
    assert version.current_stage == NONE
    assert version.status == mvpb.MODEL_VERSION_STATUS_READY
    assert version.status_message == ""
    assert tags_of(version) == {"data": "v1"}
    assert version.creation_timestamp == version.last_updated_timestamp > 0
    assert get_version(stub, "m", 1) == version
    assert get_model(stub, "m").last_updated_timestamp > model.last_updated_timestamp
    # Numbers count up per model.
    assert create_version(stub, "m", f"{run.artifact_uri}/model2").version == 2
    create_model(stub, "other")
    assert create_version(stub, "other", f"{run.artifact_uri}/model").version == 1


def test_runs_and_models_sources_resolve_and_record_their_run(api: Api) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    create_model(stub, "m")
    from_run = create_version(stub, "m", f"runs:/{run.run_id}/model")
    assert from_run.source == f"runs:/{run.run_id}/model"
    assert from_run.storage_location == f"{run.artifact_uri}/model"
    assert from_run.run_id == run.run_id  # filled in from the source
    whole_run = create_version(stub, "m", f"runs:/{run.run_id}", run_id=run.run_id)
    assert whole_run.storage_location == run.artifact_uri
    copied = create_version(stub, "m", "models:/m/1")
    assert copied.source == "models:/m/1"
    assert copied.storage_location == from_run.storage_location
    assert copied.run_id == run.run_id
    other = new_run(api.tracking)
    assert_error(
        lambda: create_version(stub, "m", f"runs:/{run.run_id}/model", run_id=other.run_id),
        INVALID,
        "run_id",
        says="same run",
    )


def test_create_model_version_errors(api: Api) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    create_model(stub, "m")
    good = f"{run.artifact_uri}/model"
    assert_error(lambda: create_version(stub, "nope", good), NOT_FOUND, says="nope")
    missing = uuid.uuid4().hex
    assert_error(lambda: create_version(stub, "m", good, run_id=missing), NOT_FOUND, says=missing)
    assert_error(lambda: create_version(stub, "m", f"runs:/{missing}/model"), NOT_FOUND)
    assert_error(lambda: create_version(stub, "m", "models:/m/7"), NOT_FOUND, says="version 7")
    assert_error(lambda: create_version(stub, "m", good, run_id="XYZ"), INVALID, "run_id")
    assert_error(lambda: create_version(stub, "m", ""), INVALID, "source", says="required")
    assert_error(
        lambda: create_version(stub, "m", good, run_link="javascript:alert(1)"),
        INVALID,
        "run_link",
    )
    assert_error(
        lambda: create_version(stub, "m", good, description="d" * 5001), INVALID, "description"
    )
    assert_error(
        lambda: create_version(stub, "m", good, tags=[version_tag("", "v")]),
        INVALID,
        "tags[0].key",
    )
    api.tracking.DeleteRun(tpb.DeleteRunRequest(run_id=run.run_id))
    assert_error(
        lambda: create_version(stub, "m", good, run_id=run.run_id), PRECONDITION, says="deleted"
    )
    # Nothing above consumed a version number.
    assert create_version(stub, "m", good).version == 1


def test_get_model_version_errors(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    assert_error(lambda: get_version(stub, "m", 1), NOT_FOUND, says="no version 1")
    assert_error(lambda: get_version(stub, "nope", 1), NOT_FOUND, says="nope")
    assert_error(lambda: get_version(stub, "m", 0), INVALID, "version")
    assert_error(lambda: get_version(stub, "m", -3), INVALID, "version")


def test_update_model_version(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    first = create_version(stub, "m", f"{api.root}/x")

    def update(**kw: object) -> object:
        request = pb.UpdateModelVersionRequest(name="m", version=1, **kw)
        return stub.UpdateModelVersion(request).model_version

    after = update(description="better")
    assert after.description == "better"
    assert after.last_updated_timestamp > first.last_updated_timestamp
    masked = update(description="best", update_mask=field_mask_pb2.FieldMask(paths=["description"]))
    assert masked.description == "best"
    assert update(description="kept", expected_last_updated_timestamp=masked.last_updated_timestamp)
    assert_error(
        lambda: update(
            description="lost", expected_last_updated_timestamp=masked.last_updated_timestamp
        ),
        ABORTED,
    )
    assert get_version(stub, "m", 1).description == "kept"
    assert_error(
        lambda: update(update_mask=field_mask_pb2.FieldMask(paths=["source"])),
        INVALID,
        "update_mask",
    )
    assert_error(
        lambda: stub.UpdateModelVersion(pb.UpdateModelVersionRequest(name="m", version=9)),
        NOT_FOUND,
    )
    assert_error(lambda: update(description="d" * 5001), INVALID, "description")


def test_delete_model_version_never_reuses_its_number(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    for _ in range(3):
        create_version(stub, "m", f"{api.root}/x", tags=[version_tag("k", "v")])
    stub.SetRegisteredModelAlias(pb.SetRegisteredModelAliasRequest(name="m", alias="a", version=3))
    stub.DeleteModelVersion(pb.DeleteModelVersionRequest(name="m", version=3))
    assert_error(lambda: get_version(stub, "m", 3), NOT_FOUND)
    model = get_model(stub, "m")
    assert list(model.aliases) == []  # the alias went with its version
    assert [v.version for v in model.latest_versions] == [2]
    assert create_version(stub, "m", f"{api.root}/x").version == 4
    assert_error(
        lambda: stub.DeleteModelVersion(pb.DeleteModelVersionRequest(name="m", version=3)),
        NOT_FOUND,
    )
    assert_error(
        lambda: stub.DeleteModelVersion(pb.DeleteModelVersionRequest(name="nope", version=1)),
        NOT_FOUND,
    )


def test_model_version_tags(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    create_version(stub, "m", f"{api.root}/x")

    def set_tag(version: int, key: str, value: str) -> None:
        stub.SetModelVersionTag(
            pb.SetModelVersionTagRequest(name="m", version=version, tag=version_tag(key, value))
        )

    def delete_tag(version: int, key: str) -> None:
        stub.DeleteModelVersionTag(
            pb.DeleteModelVersionTagRequest(name="m", version=version, key=key)
        )

    set_tag(1, "validated", "no")
    set_tag(1, "validated", "yes")
    set_tag(1, "owner", "ana")
    assert tags_of(get_version(stub, "m", 1)) == {"owner": "ana", "validated": "yes"}
    delete_tag(1, "owner")
    assert tags_of(get_version(stub, "m", 1)) == {"validated": "yes"}
    assert_error(lambda: set_tag(2, "k", "v"), NOT_FOUND, says="no version 2")
    assert_error(lambda: set_tag(1, "bad\\key", "v"), INVALID, "tag.key")
    assert_error(lambda: set_tag(0, "k", "v"), INVALID, "version")
    assert_error(lambda: delete_tag(1, "owner"), NOT_FOUND, says="owner")
    assert_error(lambda: delete_tag(2, "validated"), NOT_FOUND)


def test_transition_stage_and_archive_existing(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    for _ in range(3):
        create_version(stub, "m", f"{api.root}/x")

    def move(version: int, stage: int, archive: bool = False) -> object:
        request = pb.TransitionModelVersionStageRequest(
            name="m", version=version, stage=stage, archive_existing_versions=archive
        )
        return stub.TransitionModelVersionStage(request).model_version

    assert move(1, PRODUCTION).current_stage == PRODUCTION
    assert move(2, PRODUCTION).current_stage == PRODUCTION
    assert get_version(stub, "m", 1).current_stage == PRODUCTION  # both are Production
    moved = move(3, PRODUCTION, archive=True)
    assert moved.current_stage == PRODUCTION
    assert [get_version(stub, "m", v).current_stage for v in (1, 2, 3)] == [
        ARCHIVED,
        ARCHIVED,
        PRODUCTION,
    ]
    assert move(3, PRODUCTION).current_stage == PRODUCTION  # to the same stage: allowed
    assert move(1, NONE).current_stage == NONE

    assert_error(lambda: move(1, 0), INVALID, "stage")
    assert_error(lambda: move(1, 17), INVALID, "stage")
    assert_error(lambda: move(1, ARCHIVED, archive=True), INVALID, "archive_existing_versions")
    assert_error(lambda: move(9, STAGING), NOT_FOUND)
    with api.server.store.engine.begin() as conn:
        conn.execute(
            update(model_versions)
            .where(model_versions.c.version == 2)
            .values(status="PENDING_REGISTRATION")
        )
    assert_error(lambda: move(2, STAGING), PRECONDITION, says="PENDING_REGISTRATION")


def test_download_uri_is_the_storage_location_and_is_checked_again(api: Api) -> None:
    stub = api.registry
    run = new_run(api.tracking)
    create_model(stub, "m")
    create_version(stub, "m", f"runs:/{run.run_id}/model")

    def download(version: int, name: str = "m") -> str:
        request = pb.GetModelVersionDownloadUriRequest(name=name, version=version)
        return stub.GetModelVersionDownloadUri(request).artifact_uri

    assert download(1) == f"{run.artifact_uri}/model"
    assert_error(lambda: download(2), NOT_FOUND)
    assert_error(lambda: download(1, "nope"), NOT_FOUND)
    # A location that is no longer below the root (tampered with, or the root moved) is
    # never handed out.
    with api.server.store.engine.begin() as conn:
        conn.execute(update(model_versions).values(storage_location="file:///etc"))
    assert_error(lambda: download(1), PRECONDITION, says="refusing to serve")


def test_aliases_set_move_get_and_delete(api: Api) -> None:
    stub = api.registry
    model = create_model(stub, "m")
    for _ in range(2):
        create_version(stub, "m", f"{api.root}/x")

    def set_alias(alias: str, version: int, name: str = "m") -> object:
        return stub.SetRegisteredModelAlias(
            pb.SetRegisteredModelAliasRequest(name=name, alias=alias, version=version)
        )

    def by_alias(alias: str, name: str = "m") -> object:
        request = pb.GetModelVersionByAliasRequest(name=name, alias=alias)
        return stub.GetModelVersionByAlias(request).model_version

    def delete_alias(alias: str, name: str = "m") -> None:
        stub.DeleteRegisteredModelAlias(
            pb.DeleteRegisteredModelAliasRequest(name=name, alias=alias)
        )

    first = set_alias("champion", 1)
    assert (first.model_version.version, first.previous_version) == (1, 0)
    assert list(first.model_version.aliases) == ["champion"]
    assert by_alias("champion").version == 1
    moved = set_alias("champion", 2)  # an existing alias moves
    assert (moved.model_version.version, moved.previous_version) == (2, 1)
    assert list(get_version(stub, "m", 1).aliases) == []
    assert list(get_version(stub, "m", 2).aliases) == ["champion"]
    set_alias("Challenger-2", 1)
    after = get_model(stub, "m")
    assert [(a.alias, a.version) for a in after.aliases] == [("Challenger-2", 1), ("champion", 2)]
    assert after.last_updated_timestamp > model.last_updated_timestamp
    delete_alias("champion")
    assert_error(lambda: by_alias("champion"), NOT_FOUND, says="champion")

    for reserved in ("latest", "LATEST", "v1", "V12"):
        assert_error(lambda r=reserved: set_alias(r, 1), INVALID, "alias", says="reserved")
    for bad in ("", "a b", "a/b", "a@b", "x" * 256):
        assert_error(lambda b=bad: set_alias(b, 1), INVALID, "alias")
    assert_error(lambda: set_alias("ok", 3), NOT_FOUND, says="no version 3")
    assert_error(lambda: set_alias("ok", 0), INVALID, "version")
    assert_error(lambda: set_alias("ok", 1, name="nope"), NOT_FOUND)
    assert_error(lambda: delete_alias("never"), NOT_FOUND)
    assert_error(lambda: delete_alias("x", name="nope"), NOT_FOUND)
    assert_error(lambda: by_alias("never"), NOT_FOUND)
    assert_error(lambda: by_alias("bad alias"), INVALID, "alias")


def test_lineage_from_version_to_run_params_metrics_and_experiment(api: Api) -> None:
    """A version's run id is all it takes to reach the run's data through TrackingService."""
    stub, tracking = api.registry, api.tracking
    run = new_run(tracking, run_name="train")
    tracking.LogBatch(
        tpb.LogBatchRequest(
            run_id=run.run_id,
            params=[rpb.Param(key="lr", value="0.01")],
            metrics=[metric_pb2.Metric(key="auc", value=0.91, timestamp=1, step=3)],
        )
    )
    create_model(stub, "m")
    version = create_version(stub, "m", f"runs:/{run.run_id}/model")
    create_model(stub, "n")
    create_version(stub, "n", f"{run.artifact_uri}/other", run_id=run.run_id)
    create_version(stub, "n", f"{api.root}/unrelated")

    found = tracking.GetRun(tpb.GetRunRequest(run_id=version.run_id)).run
    assert {p.key: p.value for p in found.data.params} == {"lr": "0.01"}
    assert [(m.key, m.value, m.step) for m in found.data.metrics] == [("auc", 0.91, 3)]
    experiment = tracking.GetExperiment(
        tpb.GetExperimentRequest(experiment_id=found.info.experiment_id)
    ).experiment
    assert experiment.experiment_id == run.experiment_id

    listed = stub.ListRunModelVersions(pb.ListRunModelVersionsRequest(run_id=run.run_id))
    assert [(v.name, v.version) for v in listed.model_versions] == [("m", 1), ("n", 1)]
    assert listed.next_page_token == ""
    first = stub.ListRunModelVersions(
        pb.ListRunModelVersionsRequest(run_id=run.run_id, page_size=1)
    )
    assert [v.name for v in first.model_versions] == ["m"] and first.next_page_token
    second = stub.ListRunModelVersions(
        pb.ListRunModelVersionsRequest(
            run_id=run.run_id, page_size=1, page_token=first.next_page_token
        )
    )
    assert [v.name for v in second.model_versions] == ["n"] and not second.next_page_token

    bare = new_run(tracking)
    assert (
        list(
            stub.ListRunModelVersions(
                pb.ListRunModelVersionsRequest(run_id=bare.run_id)
            ).model_versions
        )
        == []
    )
    assert_error(
        lambda: stub.ListRunModelVersions(pb.ListRunModelVersionsRequest(run_id=uuid.uuid4().hex)),
        NOT_FOUND,
    )
    assert_error(
        lambda: stub.ListRunModelVersions(pb.ListRunModelVersionsRequest(run_id="nope")),
        INVALID,
        "run_id",
    )
    assert_error(
        lambda: stub.ListRunModelVersions(
            pb.ListRunModelVersionsRequest(run_id=run.run_id, page_size=50_001)
        ),
        INVALID,
        "page_size",
    )


def test_retried_create_model_version_returns_the_first_version(api: Api) -> None:
    stub = api.registry
    create_model(stub, "m")
    request = pb.CreateModelVersionRequest(name="m", source=f"{api.root}/x", request_id="cmv-1")
    first = stub.CreateModelVersion(request).model_version
    assert stub.CreateModelVersion(request).model_version == first
    assert create_version(stub, "m", f"{api.root}/x").version == 2
    tag = pb.SetModelVersionTagRequest(
        name="m", version=1, tag=version_tag("k", "v"), request_id="tag-1"
    )
    stub.SetModelVersionTag(tag)
    stub.DeleteModelVersionTag(pb.DeleteModelVersionTagRequest(name="m", version=1, key="k"))
    stub.SetModelVersionTag(tag)  # a replay: not applied again
    assert tags_of(get_version(stub, "m", 1)) == {}
