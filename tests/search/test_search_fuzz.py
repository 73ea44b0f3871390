"""Property tests: the parsers only ever succeed or raise InvalidArgument, and every
filter they accept is SQL that both databases' compilers and SQLite's parser take."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from trackway.errors import InvalidArgument
from trackway.search import (
    compile_experiment_filter,
    compile_experiment_order,
    compile_run_filter,
    compile_run_order,
)
from trackway.store.schema import experiments, metadata, runs

FUZZ = settings(
    database=None,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VOCABULARY = [
    "metrics.loss", "metric.`a b`", "params.lr", 'tags."mlflow.user"', "tags.mlflow.runName",
    "attributes.status", "attr.start_time", "run.end_time", "experiment_id", "name",
    "parent_run_id", "creation_time", "tags.", "foo.bar", "(", ")", ",", "AND", "OR", "NOT",
    "and", "in", "IN", "LIKE", "ILIKE", "IS", "NULL", "=", "!=", "<>", "<", "<=", ">", ">=",
    "'x'", "'%a\\_'", "'\\'", '"q"', "''", "'it''s'", "1", "-2.5e3", "1e999", ".5", "1.2.3",
    "'", '"', "`", "\\", "~", "\0", "é", "ASC", "DESC", "99999999999999999999",
]  # fmt: skip


@pytest.fixture(scope="module")
def sqlite_conn() -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _check(compile_filter: Callable[[str], Any], text: str) -> sa.ColumnElement[bool] | None:
    try:
        where: sa.ColumnElement[bool] | None = compile_filter(text)
    except InvalidArgument as exc:
        assert str(exc).startswith("filter: ")
        return None
    if where is not None:
        dialects: tuple[sa.Dialect, ...] = (sqlite.dialect(), postgresql.dialect())  # type: ignore[no-untyped-call]
        for dialect in dialects:
            str(where.compile(dialect=dialect))
    return where


@given(st.text(max_size=120))
@FUZZ
def test_random_text(text: str) -> None:
    _check(compile_run_filter, text)
    _check(compile_experiment_filter, text)


@given(st.lists(st.sampled_from(VOCABULARY), max_size=25), st.sampled_from([" ", "", "  \n"]))
@FUZZ
def test_token_soup_runs_on_sqlite(
    sqlite_conn: sa.Connection, words: list[str], separator: str
) -> None:
    text = separator.join(words)
    where = _check(compile_run_filter, text)
    if where is not None:
        sqlite_conn.execute(sa.select(runs.c.run_id).where(where)).all()
    where = _check(compile_experiment_filter, text)
    if where is not None:
        sqlite_conn.execute(sa.select(experiments.c.experiment_id).where(where)).all()


_COMPARISONS = st.sampled_from(
    [
        "metrics.loss > -1.5",
        "metrics.`val loss` <= 2e3",
        "params.lr = '0.1'",
        "params.lr != 'x'",
        "tags.t LIKE 'a%'",
        "tags.t NOT ILIKE '%B_'",
        "tags.\"a.b\" IN ('x', 'y')",
        "params.p NOT IN ('z')",
        "metrics.m IS NULL",
        "attributes.end_time >= 5",
        "attributes.parent_run_id IS NOT NULL",
        "attributes.experiment_id IN ('1', 'x')",
        "status = 'FINISHED'",
        "run_name ILIKE 'a%'",
    ]
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, st.sampled_from([" AND ", " OR "]), children)
    return (
        children.map(lambda inner: f"NOT ({inner})")
        | children.map(lambda inner: f"({inner})")
        | pair.map(lambda parts: f"({parts[0]}{parts[1]}{parts[2]})")
    )


@given(st.recursive(_COMPARISONS, _combine, max_leaves=40))
@FUZZ
def test_valid_filters_always_run(sqlite_conn: sa.Connection, text: str) -> None:
    try:
        where = compile_run_filter(text)
    except InvalidArgument as exc:
        # Only the nesting limit may reject a filter built from valid pieces.
        assert "nesting deeper than" in str(exc)
        return
    assert where is not None
    sqlite_conn.execute(sa.select(runs.c.run_id).where(where)).all()


@given(st.text(max_size=60) | st.lists(st.sampled_from(VOCABULARY), max_size=4).map(" ".join))
@FUZZ
def test_random_order_by(clause: str) -> None:
    for compile_order in (compile_run_order, compile_experiment_order):
        try:
            keys = compile_order([clause])
        except InvalidArgument as exc:
            assert str(exc).startswith("order_by: ")
        else:
            assert keys
