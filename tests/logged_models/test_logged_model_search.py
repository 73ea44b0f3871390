"""SearchLoggedModels over the SQL store, on SQLite and PostgreSQL: every field of the
filter language, orders, dataset scoping, keyset pages and their errors."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from tests.logged_models.conftest import Services, experiment, model, names, point, run_in
from trackway.errors import InvalidArgument
from trackway.tracking.logged_model_entities import READY, DatasetFilter, LoggedModel


@pytest.fixture
def zoo(services: Services) -> tuple[Services, str, dict[str, LoggedModel]]:
    """Four models in one experiment, created in the order a, b, c, d."""
    eid = experiment(services)
    rid = run_in(services, eid)
    m = services.models
    found = {
        "a": model(services, eid, "a", model_type="sklearn", source_run_id=rid),
        "b": model(services, eid, "b", model_type="torch", params=[("lr", "0.1")]),
        "c": model(services, eid, "c", tags=[("team", "risk"), ("stage", "x")]),
        "d": model(services, eid, "d", params=[("lr", "0.01")], tags=[("team", "ops")]),
    }
    m.finalize_logged_model(found["b"].model_id, READY)
    m.finalize_logged_model(found["d"].model_id, READY)
    m.log_logged_model_metrics(
        found["a"].model_id,
        rid,
        [
            point("acc", 0.7, step=1, timestamp=10, dataset_name="val", dataset_digest="v1"),
            point("acc", 0.95, step=2, timestamp=20, dataset_name="test"),
        ],
    )
    m.log_logged_model_metrics(
        found["b"].model_id, "", [point("acc", 0.8, step=1, timestamp=30, dataset_name="val")]
    )
    m.log_logged_model_metrics(found["c"].model_id, "", [point("acc", math.nan, timestamp=5)])
    other = experiment(services)
    model(services, other, "a")  # another experiment's model never shows
    deleted = model(services, eid, "gone")
    m.delete_logged_model(deleted.model_id)
    return services, eid, {k: m.get_logged_model(v.model_id) for k, v in found.items()}


def search(
    s: Services, eid: str, text: str = "", order: Sequence[str] = (), **kw: Any
) -> list[str]:
    page = s.models.search_logged_models([eid], text, order, **kw)
    return names(page.items)


def test_default_order_is_newest_first(zoo: tuple[Services, str, dict[str, LoggedModel]]) -> None:
    s, eid, _ = zoo
    assert search(s, eid) == ["d", "c", "b", "a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'a'", ["a"]),
        ("attributes.name != 'a'", ["b", "c", "d"]),
        ("name LIKE '_'", ["a", "b", "c", "d"]),
        ("name IN ('a', 'c')", ["a", "c"]),
        ("status = 'READY'", ["b", "d"]),
        ("status = 'LOGGED_MODEL_READY'", ["b", "d"]),
        ("status IN ('LOGGED_MODEL_PENDING')", ["a", "c"]),
        ("status != 'PENDING'", ["b", "d"]),
        ("model_type = 'torch'", ["b"]),
        ("model_type != 'torch'", ["a"]),
        ("model_type IS NULL", ["c", "d"]),
        ("source_run_id IS NOT NULL", ["a"]),
        ("tags.team = 'risk'", ["c"]),
        ("tags.team != 'risk'", ["d"]),
        ("tag.team IS NULL", ["a", "b"]),
        ("tags.team ILIKE 'R%'", ["c"]),
        ("params.lr = '0.1'", ["b"]),
        ("params.lr IN ('0.1', '0.01')", ["b", "d"]),
        ("param.lr NOT LIKE '0.0%'", ["b"]),
        ("metrics.acc > 0.9", ["a"]),
        ("metrics.acc >= 0.7 AND metrics.acc < 0.75", ["a"]),
        ("metrics.acc <= 0.8", ["a", "b"]),
        ("metric.acc IS NOT NULL", ["a", "b", "c"]),
        ("metrics.acc IS NULL", ["d"]),
        ("metrics.acc != 0.8", ["a"]),
        ("name = 'a' OR tags.team = 'ops'", ["a", "d"]),
        ("NOT (name = 'a' OR tags.team = 'ops')", ["b", "c"]),
        ("creation_timestamp > 0 AND last_updated_time > 0", ["a", "b", "c", "d"]),
        ("creation_time < 0", []),
    ],
)
def test_filters(
    zoo: tuple[Services, str, dict[str, LoggedModel]], text: str, expected: list[str]
) -> None:
    s, eid, _ = zoo
    assert sorted(search(s, eid, text)) == expected


def test_filter_by_ids(zoo: tuple[Services, str, dict[str, LoggedModel]]) -> None:
    s, eid, found = zoo
    a, run = found["a"].model_id, found["a"].source_run_id
    assert search(s, eid, f"model_id = '{a}'") == ["a"]
    assert search(s, eid, f"source_run_id = '{run}'") == ["a"]
    stamp = found["c"].creation_timestamp
    assert set(search(s, eid, f"creation_timestamp >= {stamp}")) >= {"c", "d"}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (["name"], ["a", "b", "c", "d"]),
        (["name DESC"], ["d", "c", "b", "a"]),
        (["metrics.acc DESC"], ["a", "b", "d", "c"]),
        (["metrics.acc ASC"], ["b", "a", "d", "c"]),
        (["params.lr ASC", "name DESC"], ["d", "b", "c", "a"]),
        (["tags.team"], ["d", "c", "b", "a"]),
        (["model_type DESC", "name"], ["b", "a", "c", "d"]),
        (["creation_timestamp ASC"], ["a", "b", "c", "d"]),
        (["status", "name DESC"], ["c", "a", "d", "b"]),
    ],
)
def test_orders(
    zoo: tuple[Services, str, dict[str, LoggedModel]], order: list[str], expected: list[str]
) -> None:
    """A metric sorts by its latest point (a: 0.95 at t=20); missing values and NaN last."""
    s, eid, _ = zoo
    assert search(s, eid, "", order) == expected


def test_datasets_limit_metric_tests_and_sort_keys(
    zoo: tuple[Services, str, dict[str, LoggedModel]],
) -> None:
    s, eid, _ = zoo
    val = [DatasetFilter("val")]
    assert sorted(search(s, eid, datasets=val)) == ["a", "b"]
    assert search(s, eid, "metrics.acc > 0.75", datasets=val) == ["b"]
    assert search(s, eid, "metrics.acc > 0.75") == ["b", "a"]
    assert search(s, eid, "", ["metrics.acc DESC"], datasets=val) == ["b", "a"]
    assert search(s, eid, datasets=[DatasetFilter("val", "v1")]) == ["a"]
    assert search(s, eid, datasets=[DatasetFilter("val", "nope")]) == []
    assert sorted(search(s, eid, datasets=[DatasetFilter("test"), DatasetFilter("val")])) == [
        "a",
        "b",
    ]


def test_pages_follow_each_other_and_ignore_new_models(
    zoo: tuple[Services, str, dict[str, LoggedModel]],
) -> None:
    s, eid, _ = zoo
    first = s.models.search_logged_models([eid], "", ["name"], page_size=3)
    assert names(first.items) == ["a", "b", "c"] and first.next_page_token
    model(s, eid, "aa")  # sorts inside the first page: never shows on the second
    second = s.models.search_logged_models(
        [eid], "", ["name"], page_size=3, page_token=first.next_page_token
    )
    assert names(second.items) == ["d"] and second.next_page_token == ""
    metric_pages: list[str] = []
    token = ""
    while True:
        page = s.models.search_logged_models(
            [eid], "", ["metrics.acc DESC"], page_size=1, page_token=token
        )
        metric_pages += names(page.items)
        token = page.next_page_token
        if not token:
            break
    assert metric_pages[:2] == ["a", "b"] and sorted(metric_pages) == ["a", "aa", "b", "c", "d"]


def test_search_errors(zoo: tuple[Services, str, dict[str, LoggedModel]]) -> None:
    s, eid, _ = zoo
    m = s.models
    cases = [
        (lambda: m.search_logged_models([]), "experiment_ids"),
        (lambda: m.search_logged_models(["x"]), "experiment_ids[0]"),
        (lambda: m.search_logged_models([eid], "colour = 'red'"), "filter"),
        (lambda: m.search_logged_models([eid], "runs.x = 'red'"), "filter"),
        (lambda: m.search_logged_models([eid], "metrics.acc = 'high'"), "filter"),
        (lambda: m.search_logged_models([eid], "tags.t > 1"), "filter"),
        (lambda: m.search_logged_models([eid], "name = "), "filter"),
        (lambda: m.search_logged_models([eid], "", ["nope"]), "order_by"),
        (lambda: m.search_logged_models([eid], "", ["a", "b", "c", "d"]), "order_by"),
        (lambda: m.search_logged_models([eid], page_size=1001), "page_size"),
        (lambda: m.search_logged_models([eid], page_token="garbage!"), "page_token"),
        (
            lambda: m.search_logged_models([eid], datasets=[DatasetFilter("")]),
            "datasets[0].dataset_name",
        ),
    ]
    for call, field in cases:
        with pytest.raises(InvalidArgument) as err:
            call()
        assert err.value.violations[0].field == field, err.value.message
    token = m.search_logged_models([eid], page_size=1).next_page_token
    with pytest.raises(InvalidArgument, match="different query"):
        m.search_logged_models([eid], "name = 'a'", page_size=1, page_token=token)
