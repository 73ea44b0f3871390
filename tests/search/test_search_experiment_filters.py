"""The experiment filter and order, executed against a real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from trackway.errors import InvalidArgument
from trackway.search import compile_experiment_filter, compile_experiment_order, order_clauses
from trackway.store.schema import experiment_tags, experiments

# experiment_id: (name, creation_time, last_update_time, lifecycle_stage, tags)
EXPERIMENTS = {
    1: ("exp-one", 100, 500, "active", {"owner": "alice", "team": "Vision"}),
    2: ("Exp Two", 200, 400, "active", {"owner": "bob"}),
    3: ("third_exp", 300, 300, "active", {"note": "50% done"}),
    4: ("exp-four", 400, 600, "deleted", {}),
    5: ("exp-five", 400, 600, "active", {"team": "vision"}),
}


@pytest.fixture(scope="module")
def db(search_engine: sa.Engine) -> sa.Engine:
    with search_engine.begin() as conn:
        for eid, (name, created, updated, stage, tags) in EXPERIMENTS.items():
            conn.execute(
                experiments.insert().values(
                    experiment_id=eid,
                    name=name,
                    artifact_location=f"s3://b/{eid}",
                    lifecycle_stage=stage,
                    creation_time=created,
                    last_update_time=updated,
                )
            )
            for key, value in tags.items():
                conn.execute(
                    experiment_tags.insert().values(experiment_id=eid, key=key, value=value)
                )
    return search_engine


CASES: list[tuple[str, set[int]]] = [
    ("", {1, 2, 3, 4, 5}),
    ("name = 'exp-one'", {1}),
    ("attributes.name LIKE 'exp%'", {1, 4, 5}),
    ("name ILIKE 'exp%'", {1, 2, 4, 5}),
    ("name != 'exp-one'", {2, 3, 4, 5}),
    ("attribute.name IN ('exp-one', 'third_exp')", {1, 3}),
    ("name NOT IN ('exp-one', 'third_exp')", {2, 4, 5}),
    ("creation_time >= 200 AND creation_time < 400", {2, 3}),
    ("attr.creation_time = 100", {1}),
    ("last_update_time > 450", {1, 4, 5}),
    ("tags.owner = 'alice'", {1}),
    ("tags.owner != 'alice'", {2}),
    ("tags.owner IS NULL", {3, 4, 5}),
    ("tag.team IS NOT NULL", {1, 5}),
    ("tags.note LIKE '50\\%%'", {3}),
    ("tags.team LIKE 'v%'", {5}),
    ("tags.team ILIKE 'VISION'", {1, 5}),
    ("name IN ('exp-one', 'third_exp') OR tags.team ILIKE 'vision'", {1, 3, 5}),
    ("NOT tags.team = 'Vision'", {2, 3, 4, 5}),
    ("(name LIKE 'exp-%' OR name = 'Exp Two') AND NOT last_update_time = 600", {1, 2}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_experiment_filter(db: sa.Engine, text: str, expected: set[int]) -> None:
    query = sa.select(experiments.c.experiment_id)
    where = compile_experiment_filter(text)
    if where is not None:
        query = query.where(where)
    with db.connect() as conn:
        assert set(conn.scalars(query)) == expected


MALFORMED = [
    ("metrics.x > 1", "unknown entity 'metrics'", 1),
    ("status = 'x'", "unknown attribute 'status'", 1),
    ("attributes.experiment_id = '1'", "unknown attribute 'experiment_id'", 1),
    ("creation_time > 'a'", "expected a number for attribute 'creation_time'", 17),
    ("name > 'a'", "operator > is not allowed on attribute 'name'", 6),
    ("tags.x > 'a'", "operator > is not allowed on tags", 8),
    ("name = 'a' OR", "end of input", 14),
]


@pytest.mark.parametrize(("text", "quoted", "position"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_experiment_filter(text: str, quoted: str, position: int) -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_experiment_filter(text)
    assert quoted in str(info.value)
    assert str(info.value).endswith(f"at position {position}")


@pytest.mark.parametrize(
    ("text", "order_by", "expected"),
    [
        ("", [], [5, 4, 1, 2, 3]),
        # Names that sort alike under any collation (PostgreSQL's depends on the locale).
        ("name LIKE 'exp-%'", ["name"], [5, 4, 1]),
        ("", ["creation_time DESC"], [5, 4, 3, 2, 1]),
        ("", ["attributes.last_update_time ASC", "experiment_id ASC"], [3, 2, 1, 4, 5]),
    ],
)
def test_experiment_order(
    db: sa.Engine, text: str, order_by: list[str], expected: list[int]
) -> None:
    keys = compile_experiment_order(order_by)
    assert keys[-1].name == "experiment_id"
    query = sa.select(experiments.c.experiment_id).order_by(*order_clauses(keys))
    where = compile_experiment_filter(text)
    if where is not None:
        query = query.where(where)
    with db.connect() as conn:
        assert list(conn.scalars(query)) == expected


@pytest.mark.parametrize(
    ("order_by", "quoted"),
    [
        (["tags.owner"], "cannot order by tag 'tags.owner'"),
        (["status"], "unknown attribute 'status'"),
        (["name SIDEWAYS"], "unexpected token 'SIDEWAYS'"),
    ],
)
def test_bad_experiment_order(order_by: list[str], quoted: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^order_by: invalid clause") as info:
        compile_experiment_order(order_by)
    assert quoted in str(info.value)
