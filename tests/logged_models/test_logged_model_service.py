"""LoggedModelService over the SQL store, on SQLite and PostgreSQL: what each call
writes and reads back, the input rules, and the state rules the store enforces."""

from __future__ import annotations

import math
import re

import pytest
from sqlalchemy import func, select

from tests.logged_models.conftest import Services, experiment, model, point, run_in
from trackway.errors import FailedPrecondition, InvalidArgument, NotFound
from trackway.store.schema import logged_model_metrics, logged_models
from trackway.tracking.logged_model_entities import PENDING, READY, UPLOAD_FAILED


def test_create_and_get_a_model(services: Services) -> None:
    eid = experiment(services)
    rid = run_in(services, eid)
    made = services.models.create_logged_model(
        eid,
        "net",
        "sklearn",
        rid,
        params=[("lr", "0.1"), ("depth", "3")],
        tags=[("b", "2"), ("a", "1"), ("b", "3")],
    )
    assert re.fullmatch(r"m-[0-9a-f]{32}", made.model_id)
    assert made.experiment_id == eid
    assert (made.name, made.model_type, made.source_run_id) == ("net", "sklearn", rid)
    assert made.status == PENDING and made.status_message == "" and not made.deleted
    exp = services.tracking.get_experiment(eid)
    assert made.artifact_location == f"{exp.artifact_location}/models/{made.model_id}/artifacts"
    assert made.creation_timestamp == made.last_updated_timestamp > 0
    # Ordered by key; a repeated tag key keeps its last value.
    assert list(made.tags.items()) == [("a", "1"), ("b", "3")]
    assert list(made.params.items()) == [("depth", "3"), ("lr", "0.1")]
    assert made.metrics == []
    assert services.models.get_logged_model(made.model_id) == made


def test_a_model_without_a_name_or_run_gets_a_generated_name(services: Services) -> None:
    made = services.models.create_logged_model(experiment(services))
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", made.name)
    assert made.source_run_id == "" and made.model_type == ""


def test_create_checks_its_input(services: Services) -> None:
    eid = experiment(services)
    bad_calls = {
        "experiment_id": lambda: services.models.create_logged_model("x1"),
        "name": lambda: services.models.create_logged_model(eid, "a/b"),
        "model_type": lambda: services.models.create_logged_model(eid, model_type="t" * 501),
        "source_run_id": lambda: services.models.create_logged_model(eid, source_run_id="nope"),
        "params[1].key": lambda: services.models.create_logged_model(
            eid, params=[("ok", "1"), ("../x", "2")]
        ),
        "tags[0].value": lambda: services.models.create_logged_model(eid, tags=[("k", "v" * 8001)]),
        "tags": lambda: services.models.create_logged_model(
            eid, tags=[(f"k{i}", "v") for i in range(101)]
        ),
        "request_id": lambda: services.models.create_logged_model(eid, request_id="bad id!"),
    }
    for field, call in bad_calls.items():
        with pytest.raises(InvalidArgument) as err:
            call()
        assert err.value.violations[0].field == field, err.value
    for bad in ("a.b", "x:y", "50%", "it's", ' "q"', "   ", "n" * 501):
        with pytest.raises(InvalidArgument):
            services.models.create_logged_model(eid, bad)


def test_create_needs_an_active_experiment_and_an_existing_run(services: Services) -> None:
    eid = experiment(services)
    with pytest.raises(NotFound, match="experiment 999999 does not exist"):
        services.models.create_logged_model("999999")
    with pytest.raises(NotFound, match="does not exist"):
        services.models.create_logged_model(eid, source_run_id="0" * 32)
    services.tracking.delete_experiment(eid)
    with pytest.raises(FailedPrecondition, match="deleted"):
        services.models.create_logged_model(eid)


def test_ids_of_another_shape_name_no_model(services: Services) -> None:
    for bad in ("m-unknown", "m-" + "A" * 32, "run-id", "m-" + "0" * 33):
        with pytest.raises(NotFound):
            services.models.get_logged_model(bad)
    with pytest.raises(InvalidArgument, match="model_id: is required"):
        services.models.get_logged_model("")
    with pytest.raises(NotFound):
        services.models.get_logged_model("m-" + "0" * 32)


def test_finalize_sets_status_and_message(services: Services) -> None:
    made = model(services, experiment(services))
    done = services.models.finalize_logged_model(made.model_id, READY)
    assert done.status == READY and done.last_updated_timestamp > made.last_updated_timestamp
    failed = services.models.finalize_logged_model(made.model_id, UPLOAD_FAILED, "disk full")
    assert (failed.status, failed.status_message) == (UPLOAD_FAILED, "disk full")
    for status in (PENDING, "", "DONE"):
        with pytest.raises(InvalidArgument, match="status"):
            services.models.finalize_logged_model(made.model_id, status)
    with pytest.raises(InvalidArgument, match="status_message"):
        services.models.finalize_logged_model(made.model_id, READY, "m" * 1001)


def test_every_change_moves_last_updated_strictly_forward(services: Services) -> None:
    made = model(services, experiment(services))
    stamps = [made.last_updated_timestamp]
    mid = made.model_id
    for change in (
        lambda: services.models.set_logged_model_tags(mid, [("a", "1")]),
        lambda: services.models.delete_logged_model_tag(mid, "a"),
        lambda: services.models.log_logged_model_params(mid, [("p", "1")]),
        lambda: services.models.log_logged_model_metrics(mid, "", [point("m", 1.0)]),
        lambda: services.models.finalize_logged_model(mid, READY),
    ):
        change()
        stamps.append(services.models.get_logged_model(mid).last_updated_timestamp)
    assert stamps == sorted(set(stamps))


def test_tags_set_replace_and_delete(services: Services) -> None:
    made = model(services, experiment(services), tags=[("a", "1")])
    after = services.models.set_logged_model_tags(made.model_id, [("a", "2"), ("z", "9")])
    assert after.tags == {"a": "2", "z": "9"}
    services.models.delete_logged_model_tag(made.model_id, "a")
    assert services.models.get_logged_model(made.model_id).tags == {"z": "9"}
    with pytest.raises(NotFound, match="no tag 'a'"):
        services.models.delete_logged_model_tag(made.model_id, "a")
    with pytest.raises(InvalidArgument, match="key"):
        services.models.delete_logged_model_tag(made.model_id, "/abs")


def test_params_are_write_once(services: Services) -> None:
    made = model(services, experiment(services), params=[("lr", "0.1")])
    services.models.log_logged_model_params(made.model_id, [("lr", "0.1"), ("depth", "3")])
    with pytest.raises(FailedPrecondition, match="write-once") as err:
        services.models.log_logged_model_params(made.model_id, [("lr", "0.2")])
    assert err.value.metadata == {"key": "lr"}
    with pytest.raises(InvalidArgument, match="twice"):
        services.models.log_logged_model_params(made.model_id, [("x", "1"), ("x", "2")])
    assert services.models.get_logged_model(made.model_id).params == {"depth": "3", "lr": "0.1"}


def test_metrics_keep_run_and_dataset_and_skip_resent_points(services: Services) -> None:
    eid = experiment(services)
    rid = run_in(services, eid)
    made = model(services, eid)
    batch = [
        point("acc", 0.9, step=1, timestamp=10, dataset_name="val", dataset_digest="d1"),
        point("acc", math.nan, step=2, timestamp=11),
        point("loss", math.inf, step=1, timestamp=10),
    ]
    services.models.log_logged_model_metrics(made.model_id, rid, batch)
    # MLflow's log_model sends the same points again: nothing is added.
    services.models.log_logged_model_metrics(made.model_id, rid, batch[:1])
    services.models.log_logged_model_metrics(made.model_id, "", [point("acc", 0.5, step=1)])
    got = services.models.get_logged_model(made.model_id).metrics
    assert [(m.key, m.step, m.timestamp, m.run_id) for m in got] == [
        ("acc", 1, 10, rid),
        ("acc", 1, 1000, ""),
        ("acc", 2, 11, rid),
        ("loss", 1, 10, rid),
    ]
    assert (got[0].dataset_name, got[0].dataset_digest, got[0].value) == ("val", "d1", 0.9)
    assert math.isnan(got[2].value) and got[3].value == math.inf
    # Points belong to the model, not to the run.
    assert services.tracking.get_run(rid).metrics == []


def test_metric_input_and_run_rules(services: Services) -> None:
    eid = experiment(services)
    rid = run_in(services, eid)
    made = model(services, eid)
    log = services.models.log_logged_model_metrics
    with pytest.raises(InvalidArgument) as err:
        log(made.model_id, rid, [point("ok", 1.0), point("a//b", 1.0)])
    assert err.value.violations[0].field == "metrics[1].key"
    with pytest.raises(InvalidArgument, match=r"metrics\[0\].timestamp"):
        log(made.model_id, rid, [point("k", 1.0, timestamp=-1)])
    with pytest.raises(InvalidArgument, match=r"metrics\[0\].dataset_digest"):
        log(made.model_id, rid, [point("k", 1.0, dataset_digest="d")])
    with pytest.raises(InvalidArgument, match="at most 1000"):
        log(made.model_id, rid, [point("k", 1.0, step=i) for i in range(1001)])
    with pytest.raises(InvalidArgument, match="run_id"):
        log(made.model_id, "not-a-run", [point("k", 1.0)])
    with pytest.raises(NotFound, match="run"):
        log(made.model_id, "0" * 32, [point("k", 1.0)])
    services.tracking.delete_run(rid)
    with pytest.raises(FailedPrecondition, match="deleted"):
        log(made.model_id, rid, [point("k", 1.0)])


def test_a_deleted_model_is_gone_for_every_call_but_get_with_allow_deleted(
    services: Services,
) -> None:
    made = model(services, experiment(services))
    mid = made.model_id
    services.models.delete_logged_model(mid)
    services.models.delete_logged_model(mid)  # again: still fine
    with pytest.raises(NotFound, match="was deleted"):
        services.models.get_logged_model(mid)
    kept = services.models.get_logged_model(mid, allow_deleted=True)
    assert kept.deleted and kept.name == made.name
    for call in (
        lambda: services.models.finalize_logged_model(mid, READY),
        lambda: services.models.set_logged_model_tags(mid, [("a", "1")]),
        lambda: services.models.delete_logged_model_tag(mid, "a"),
        lambda: services.models.log_logged_model_params(mid, [("a", "1")]),
        lambda: services.models.log_logged_model_metrics(mid, "", [point("a", 1.0)]),
    ):
        with pytest.raises(NotFound, match="was deleted"):
            call()
    with pytest.raises(NotFound):
        services.models.delete_logged_model("m-" + "1" * 32)


def test_a_retried_request_id_is_applied_once(services: Services) -> None:
    eid = experiment(services)
    first = services.models.create_logged_model(eid, "once", request_id="create-1")
    again = services.models.create_logged_model(eid, "once", request_id="create-1")
    assert again.model_id == first.model_id
    page = services.models.search_logged_models([eid])
    assert [m.model_id for m in page.items] == [first.model_id]
    services.models.log_logged_model_metrics(
        first.model_id, "", [point("k", 1.0)], request_id="metrics-1"
    )
    with pytest.raises(InvalidArgument, match="already used"):
        services.models.delete_logged_model(first.model_id, request_id="metrics-1")


def test_purging_the_experiment_removes_its_models(services: Services) -> None:
    eid = experiment(services)
    made = model(services, eid, tags=[("a", "1")], params=[("p", "1")])
    services.models.log_logged_model_metrics(made.model_id, "", [point("k", 1.0)])
    services.tracking.delete_experiment(eid)
    services.tracking.purge_experiment(eid)
    with pytest.raises(NotFound):
        services.models.get_logged_model(made.model_id, allow_deleted=True)
    engine = services.tracking.store.engine
    with engine.connect() as conn:
        for table in (logged_models, logged_model_metrics):
            count = conn.execute(
                select(func.count()).select_from(table).where(table.c.model_id == made.model_id)
            ).scalar()
            assert count == 0


def test_purging_a_source_run_keeps_the_model(services: Services) -> None:
    """The model lives in the experiment; its run is lineage, not an owner."""
    keep = experiment(services)
    other = experiment(services)
    rid = run_in(services, other)
    made = model(services, keep, source_run_id=rid)
    services.models.log_logged_model_metrics(made.model_id, rid, [point("k", 1.0)])
    services.tracking.delete_experiment(other)
    services.tracking.purge_experiment(other)
    found = services.models.get_logged_model(made.model_id)
    assert found.source_run_id == rid and [m.run_id for m in found.metrics] == [rid]
