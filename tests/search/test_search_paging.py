"""Sort orders and keyset pagination over 50 runs, against a real database."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from trackway.errors import InvalidArgument
from trackway.search import (
    SortKey,
    compile_run_filter,
    compile_run_order,
    decode_page_token,
    encode_page_token,
    keyset_after,
    order_clauses,
    query_fingerprint,
)
from trackway.store.schema import experiments, metric_series, params, runs, tags

N = 50
PAGE = 7


def _row(i: int) -> dict[str, Any]:
    """Run i, with ties in every sort field and missing values in the optional ones."""
    score: float | None = round(((i * 37) % 23) / 4 - 2, 2)  # negatives and duplicates
    return {
        "run_id": f"run{i:02d}",
        "name": f"name{i % 4}",
        "status": "KILLED" if i % 6 == 0 else "FINISHED",
        "start_time": 1000 + (i % 10) * 10,
        "end_time": None if i % 4 == 0 else 5000 + (i % 3),
        # metric missing for i % 5 == 0, NaN (NULL) for i % 7 == 0
        "score": "missing" if i % 5 == 0 else (None if i % 7 == 0 else score),
        "p": None if i % 3 == 0 else f"v{(i * 7) % 11:02d}",
        "t": None if i % 2 == 0 else f"t{i % 5}",
    }


ROWS = [_row(i) for i in range(N)]


@pytest.fixture(scope="module")
def db(search_engine: sa.Engine) -> sa.Engine:
    with search_engine.begin() as conn:
        conn.execute(
            experiments.insert().values(
                experiment_id=1,
                name="paging",
                artifact_location="s3://b/1",
                lifecycle_stage="active",
                creation_time=0,
                last_update_time=0,
            )
        )
        for row in ROWS:
            conn.execute(
                runs.insert().values(
                    run_id=row["run_id"],
                    experiment_id=1,
                    name=row["name"],
                    user_id="u",
                    status=row["status"],
                    start_time=row["start_time"],
                    end_time=row["end_time"],
                    lifecycle_stage="active",
                    artifact_uri="s3://b",
                )
            )
            if row["score"] != "missing":
                conn.execute(
                    metric_series.insert().values(
                        run_id=row["run_id"],
                        key="score",
                        last_step=0,
                        last_timestamp=0,
                        last_value=row["score"],
                    )
                )
            if row["p"] is not None:
                conn.execute(params.insert().values(run_id=row["run_id"], key="p", value=row["p"]))
            if row["t"] is not None:
                conn.execute(tags.insert().values(run_id=row["run_id"], key="t", value=row["t"]))
    return search_engine


def _field(row: dict[str, Any], name: str) -> Any:
    if name == "metrics.score":
        return None if row["score"] == "missing" else row["score"]
    if name == "attributes.run_name":
        return row["name"]
    return row[name.split(".", 1)[1]]


def _expected(keys: Sequence[SortKey], rows: list[dict[str, Any]]) -> list[str]:
    """The order computed in Python: each key in its direction, missing values last."""

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for key in keys:
            x, y = _field(a, key.name), _field(b, key.name)
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1
            result = -1 if x < y else 1
            return -result if key.descending else result
        return 0

    return [row["run_id"] for row in sorted(rows, key=functools.cmp_to_key(compare))]


def _page(
    conn: sa.Connection, text: str, keys: list[SortKey], token: str | None, fingerprint: str
) -> tuple[list[str], str | None]:
    query = sa.select(runs.c.run_id, *[k.expr.label(f"_k{i}") for i, k in enumerate(keys)])
    where = compile_run_filter(text)
    if where is not None:
        query = query.where(where)
    if token is not None:
        query = query.where(keyset_after(keys, decode_page_token(token, fingerprint)))
    rows = conn.execute(query.order_by(*order_clauses(keys)).limit(PAGE + 1)).all()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_token = encode_page_token(fingerprint, list(rows[-1][1:])) if more else None
    return [row[0] for row in rows], next_token


ORDERS = [
    [],
    ["metrics.score ASC"],
    ["metrics.score DESC"],
    ["params.p DESC"],
    ["param.p", "metrics.score DESC"],
    ["tags.t DESC", "attributes.end_time ASC"],
    ["attributes.run_name", "attributes.end_time DESC", "metrics.score"],
    ["attributes.run_id DESC"],
    ["attributes.start_time ASC"],
]


@pytest.mark.parametrize("text", ["", "attributes.status != 'KILLED'"])
@pytest.mark.parametrize("order_by", ORDERS, ids=[",".join(o) or "default" for o in ORDERS])
def test_pages_visit_every_run_once_in_order(db: sa.Engine, order_by: list[str], text: str) -> None:
    keys = compile_run_order(order_by)
    rows = [r for r in ROWS if not (text and r["status"] == "KILLED")]
    expected = _expected(keys, rows)
    fingerprint = query_fingerprint("runs", [1], text, order_by)
    seen: list[str] = []
    token: str | None = None
    with db.connect() as conn:
        while True:
            page, token = _page(conn, text, keys, token, fingerprint)
            assert len(page) == PAGE or token is None
            seen.extend(page)
            if token is None:
                break
    assert seen == expected
    assert len(seen) == len(set(seen)) == len(rows)


def test_default_order_and_tiebreak() -> None:
    names = [k.name for k in compile_run_order([])]
    assert names == ["attributes.start_time", "attributes.run_id"]
    assert [k.descending for k in compile_run_order([])] == [True, False]
    names = [k.name for k in compile_run_order(["metrics.`val loss` DESC"])]
    assert names == ["metrics.val loss", "attributes.start_time", "attributes.run_id"]
    assert [k.name for k in compile_run_order(["attributes.run_id"])] == ["attributes.run_id"]
    names = [k.name for k in compile_run_order(["created DESC", "tags.x"])]
    assert names == ["attributes.start_time", "tags.x", "attributes.run_id"]


def test_missing_metric_sorts_last_in_both_directions(db: sa.Engine) -> None:
    for direction in ("ASC", "DESC"):
        keys = compile_run_order([f"metrics.score {direction}"])
        query = sa.select(keys[0].expr).select_from(runs).order_by(*order_clauses(keys))
        with db.connect() as conn:
            values = list(conn.scalars(query))
        present = [v for v in values if v is not None]
        assert values[len(present) :] == [None] * (len(values) - len(present))
        assert present == sorted(present, reverse=direction == "DESC")


def test_token_from_another_query_is_rejected(db: sa.Engine) -> None:
    keys = compile_run_order(["metrics.score"])
    first = query_fingerprint("runs", [1], "", ["metrics.score"])
    with db.connect() as conn:
        _, token = _page(conn, "", keys, None, first)
    assert token is not None
    other = query_fingerprint("runs", [1], "attributes.status != 'KILLED'", ["metrics.score"])
    with pytest.raises(InvalidArgument, match=r"^page_token: was made for a different query"):
        decode_page_token(token, other)
    reordered = query_fingerprint("runs", [1], "", ["metrics.score DESC"])
    with pytest.raises(InvalidArgument, match=r"^page_token: "):
        decode_page_token(token, reordered)


def test_keyset_rejects_values_that_do_not_fit_the_keys() -> None:
    keys = compile_run_order(["metrics.score"])  # score, start_time, run_id
    with pytest.raises(InvalidArgument, match=r"^page_token: does not match the sort order"):
        keyset_after(keys, [1.0, 1000])
    for bad in ([1.0, "1000", "run01"], [1.0, 1000, 5], ["x", 1000, "run01"], [True, 1, "a"]):
        with pytest.raises(InvalidArgument, match=r"^page_token: holds a bad value"):
            keyset_after(keys, bad)
    with pytest.raises(InvalidArgument, match=r"^page_token: holds a bad value"):
        keyset_after(keys, [1.0, 2**63, "run01"])
    keyset_after(keys, [None, 1000, "run01"])
    keyset_after(keys, [3, 1000, "run01"])  # an int for a float key is fine


@pytest.mark.parametrize(
    ("order_by", "quoted"),
    [
        (["metrics.loss UP"], "invalid clause 'metrics.loss UP': unexpected token 'UP'"),
        (["foo.bar"], "invalid clause 'foo.bar': unknown entity 'foo' at position 1"),
        (["attributes.nope DESC"], "unknown attribute 'nope'"),
        (["metrics."], "missing key after 'metrics.'"),
        ([""], "invalid clause '': expected a field name but found end of input"),
        (["metrics.a ASC DESC"], "unexpected token 'DESC' at position 15"),
        (["params.`x"], "unterminated name"),
        (["a", "b", "c", "d"], "at most 3 clauses are allowed, got 4"),
    ],
)
def test_bad_order_by(order_by: list[str], quoted: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_run_order(order_by)
    assert str(info.value).startswith("order_by: ")
    assert quoted in str(info.value)
    assert info.value.violations[0].field == "order_by"


def test_order_by_must_be_a_list() -> None:
    with pytest.raises(InvalidArgument, match=r"^order_by: must be a list"):
        compile_run_order("metrics.x")
