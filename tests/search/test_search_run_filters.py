"""The run filter language, executed against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from trackway.errors import InvalidArgument
from trackway.search import compile_run_filter
from trackway.store.schema import experiments, metric_series, params, runs, tags

NAN = None  # metric_series stores NaN as NULL

EXPERIMENTS = [(1, "exp-one"), (2, "Exp Two"), (3, "third_exp")]

# run_id: (experiment_id, name, user, status, start, end, stage, artifact_uri, parent)
RUNS: dict[str, tuple[Any, ...]] = {
    "r01": (1, "alpha", "alice", "FINISHED", 1000, 2000, "active", "s3://b/1/r01", None),
    "r02": (1, "beta", "bob", "FAILED", 2000, 2500, "active", "s3://b/1/r02", None),
    "r03": (1, "gamma", "alice", "RUNNING", 3000, None, "active", "file:///t/r03", "r01"),
    "r04": (2, "delta", "carol", "FINISHED", 4000, 4500, "deleted", "s3://b/2/r04", None),
    "r05": (2, "Alpha2", "bob", "KILLED", 5000, 5100, "active", "s3://b/2/r05", "r01"),
    "r06": (3, "epsilon", "dave", "SCHEDULED", 6000, None, "active", "gs://b/r06", "r03"),
    "r07": (3, "it's", "erin", "FINISHED", 7000, 9000, "active", "s3://b/3/r07", None),
}
PARAMS = {
    "r01": {"lr": "0.01", "optimizer": "Adam", "batch size": "32"},
    "r02": {"lr": "0.1", "optimizer": "adam"},
    "r03": {"lr": "0.01", "optimizer": "SGD", "batch size": "64"},
    "r05": {"lr": "1e-3", "optimizer": "ADAM"},
    "r06": {"weird`key": "v", "path": "C:\\data\\x_1"},
    "r07": {"lr": "0.1"},
}
TAGS = {
    "r01": {"mlflow.runName": "alpha", "mlflow.user": "alice", "team": "Vision", "note": "50% off"},
    "r02": {"mlflow.user": "bob", "team": "vision"},
    "r03": {"team": "nlp", "note": "500 off"},
    "r04": {"team": "Vision"},
    "r05": {"team": "VISION", "mlflow.user": "bob"},
    "r06": {"my tag": "x*y", "note": "a_b"},
    "r07": {"note": "axb"},
}
METRICS: dict[str, dict[str, float | None]] = {
    "r01": {"loss": 0.5, "acc": 0.9, "val loss": 0.6},
    "r02": {"loss": -1.5, "acc": NAN},
    "r03": {"loss": 1e-3, "acc": 2500.0},
    "r04": {"loss": NAN},
    "r05": {"loss": -2e-3, "acc": 0.95},
    "r07": {"loss": 3.0},
}


def _seed(conn: sa.Connection) -> None:
    conn.execute(
        experiments.insert(),
        [
            {
                "experiment_id": eid,
                "name": name,
                "artifact_location": f"s3://b/{eid}",
                "lifecycle_stage": "active",
                "creation_time": 0,
                "last_update_time": 0,
            }
            for eid, name in EXPERIMENTS
        ],
    )
    columns = (
        *("experiment_id", "name", "user_id", "status", "start_time", "end_time"),
        *("lifecycle_stage", "artifact_uri", "parent_run_id"),
    )
    conn.execute(
        runs.insert(),
        [{"run_id": rid, **dict(zip(columns, row, strict=True))} for rid, row in RUNS.items()],
    )
    for table, data in ((params, PARAMS), (tags, TAGS)):
        rows = [
            {"run_id": rid, "key": k, "value": v} for rid, kv in data.items() for k, v in kv.items()
        ]
        conn.execute(table.insert(), rows)
    conn.execute(
        metric_series.insert(),
        [
            {"run_id": rid, "key": k, "last_step": 0, "last_timestamp": 0, "last_value": v}
            for rid, kv in METRICS.items()
            for k, v in kv.items()
        ],
    )


@pytest.fixture(scope="module")
def db(search_engine: sa.Engine) -> sa.Engine:
    with search_engine.begin() as conn:
        _seed(conn)
    return search_engine


def _matching(engine: sa.Engine, text: str) -> set[str]:
    query = sa.select(runs.c.run_id)
    where = compile_run_filter(text)
    if where is not None:
        query = query.where(where)
    with engine.connect() as conn:
        return set(conn.scalars(query))


def _ids(*numbers: int) -> set[str]:
    return {f"r0{n}" for n in numbers}


ALL = _ids(1, 2, 3, 4, 5, 6, 7)

CASES: list[tuple[str, set[str]]] = [
    # Empty filters match everything.
    ("", ALL),
    ("  \n\t ", ALL),
    # Metrics: numbers (negative, scientific), NaN never matches, IS [NOT] NULL is presence.
    ("metrics.loss < 0", _ids(2, 5)),
    ("metrics.loss < -1e-3", _ids(2, 5)),
    ("metrics.loss >= -2e-3 AND metrics.loss < 0", _ids(5)),
    ("metrics.loss > -1.5", _ids(1, 3, 5, 7)),
    ("metrics.loss>=-1.5", _ids(1, 2, 3, 5, 7)),
    ("metrics.loss = 1E-3", _ids(3)),
    ("metrics.loss = 3", _ids(7)),
    ("metrics.loss < .6", _ids(1, 2, 3, 5)),
    ("metrics.loss != 0.5", _ids(2, 3, 5, 7)),
    ("metrics.loss <> 0.5", _ids(2, 3, 5, 7)),
    ("metrics.acc > 1000", _ids(3)),
    ("metrics.acc <= 0.95", _ids(1, 5)),
    ("metric.acc IS NOT NULL", _ids(1, 2, 3, 5)),
    ("metrics.acc IS NULL", _ids(4, 6, 7)),
    ("metrics.loss IS NULL", _ids(6)),
    ("NOT metrics.loss > 0", _ids(2, 4, 5, 6)),
    ("metrics.`val loss` < 1", _ids(1)),
    ('metric."val loss" >= 0.6', _ids(1)),
    ("Metrics.loss > 1", _ids(7)),
    # Params: MLflow's != (key must exist), LIKE case-sensitive, ILIKE not.
    ("params.lr = '0.01'", _ids(1, 3)),
    ("param.lr != '0.01'", _ids(2, 5, 7)),
    ("NOT params.lr = '0.01'", _ids(2, 4, 5, 6, 7)),
    ("params.optimizer LIKE 'A%'", _ids(1, 5)),
    ("params.optimizer LIKE 'adam'", _ids(2)),
    ("params.optimizer ILIKE 'adam'", _ids(1, 2, 5)),
    ("params.optimizer NOT LIKE '%a%'", _ids(3, 5)),
    ("params.optimizer NOT ILIKE '%a%'", _ids(3)),
    ("params.lr IN ('0.1', '1e-3')", _ids(2, 5, 7)),
    ("parameters.lr NOT IN ('0.1', '1e-3')", _ids(1, 3)),
    ("parameter.lr IN ('0.01')", _ids(1, 3)),
    ("params.`batch size` = '32'", _ids(1)),
    ('params."batch size" IS NOT NULL', _ids(1, 3)),
    ("params.lr IS NULL", _ids(4, 6)),
    ("params.`weird``key` = 'v'", _ids(6)),
    ("params.path = 'C:\\data\\x_1'", _ids(6)),
    ("params.path LIKE 'C:\\\\data\\\\x\\_1'", _ids(6)),
    # Tags: dotted keys unquoted and quoted, LIKE wildcards and escapes.
    ("tags.team = 'Vision'", _ids(1, 4)),
    ("tags.team != 'Vision'", _ids(2, 3, 5)),
    ("tags.team LIKE 'V%'", _ids(1, 4, 5)),
    ("tags.team LIKE 'v%'", _ids(2)),
    ("tags.team ILIKE 'VISION'", _ids(1, 2, 4, 5)),
    ("tag.team NOT IN ('nlp', 'vision')", _ids(1, 4, 5)),
    ("tags.note LIKE '50% off'", _ids(1, 3)),
    ("tags.note LIKE '50\\% off'", _ids(1)),
    ("tags.note LIKE 'a_b'", _ids(6, 7)),
    ("tags.note LIKE 'a\\_b'", _ids(6)),
    ("tags.`my tag` = 'x*y'", _ids(6)),
    ("tags.`my tag` LIKE 'x*%'", _ids(6)),
    ("tags.`my tag` LIKE 'x?y'", set()),
    ("tags.`my tag` LIKE '[x]*y'", set()),
    ('tags."mlflow.user" IN (\'alice\', "bob")', _ids(1, 2, 5)),
    ("tags.mlflow.user = 'bob'", _ids(2, 5)),
    ('tags.team = "nlp"', _ids(3)),
    # Attributes: strings, numbers, nullable columns, aliases, experiment_id as a string.
    ("attributes.status = 'FINISHED'", _ids(1, 4, 7)),
    ("attributes.status = 'finished'", set()),
    ("status IN ('RUNNING', 'SCHEDULED')", _ids(3, 6)),
    ("attr.status NOT IN ('FINISHED')", _ids(2, 3, 5, 6)),
    ("attributes.start_time >= 2000 AND attributes.start_time < 5000", _ids(2, 3, 4)),
    ("attributes.start_time > 1.5e3 AND attributes.start_time < 2500.5", _ids(2)),
    ("run.created > 6000", _ids(7)),
    ("attributes.end_time IS NULL", _ids(3, 6)),
    ("attributes.end_time IS NOT NULL", _ids(1, 2, 4, 5, 7)),
    ("attributes.end_time < 3000", _ids(1, 2)),
    ("NOT attributes.end_time < 3000", _ids(3, 4, 5, 6, 7)),
    ("attributes.end_time != 2000", _ids(2, 4, 5, 7)),
    ("attributes.run_name = 'alpha'", _ids(1)),
    ("attributes.name LIKE 'Alpha%'", _ids(5)),
    ("name ILIKE 'alpha%'", _ids(1, 5)),
    ("attributes.\"run name\" = 'beta'", _ids(2)),
    ("attributes.run_name = 'it''s'", _ids(7)),
    ('run_name = "it\'s"', _ids(7)),
    ("attributes.experiment_id = '1'", _ids(1, 2, 3)),
    ("attributes.experiment_id = 3", _ids(6, 7)),
    ("attributes.experiment_id = '01'", set()),
    ("attributes.experiment_id != '1'", _ids(4, 5, 6, 7)),
    ("attributes.experiment_id IN ('2', '3')", _ids(4, 5, 6, 7)),
    ("attributes.experiment_id NOT IN ('1', 'x')", _ids(4, 5, 6, 7)),
    ("attributes.experiment_id LIKE '%2'", _ids(4, 5)),
    ("attributes.run_id IN ('r01', 'r03', 'zz')", _ids(1, 3)),
    ("attributes.user_id = 'alice'", _ids(1, 3)),
    ("attributes.lifecycle_stage = 'deleted'", _ids(4)),
    ("attributes.artifact_uri LIKE 's3://%'", _ids(1, 2, 4, 5, 7)),
    ("attributes.parent_run_id = 'r01'", _ids(3, 5)),
    ("attributes.parent_run_id != 'r01'", _ids(6)),
    ("attributes.parent_run_id IS NULL", _ids(1, 2, 4, 7)),
    ("NOT attributes.parent_run_id = 'r01'", _ids(1, 2, 4, 6, 7)),
    ("attributes.parent_run_id NOT LIKE 'r0%'", set()),
    # Boolean structure: AND binds tighter than OR, NOT tighter than AND, parentheses.
    ("params.lr = '0.01' OR params.lr = '0.1' AND tags.team = 'vision'", _ids(1, 2, 3)),
    ("params.lr = '0.1' AND tags.team = 'vision' OR params.lr = '0.01'", _ids(1, 2, 3)),
    ("(params.lr = '0.01' OR params.lr = '0.1') AND tags.team = 'vision'", _ids(2)),
    ("NOT (status = 'FINISHED' OR status = 'FAILED')", _ids(3, 5, 6)),
    ("NOT status = 'FINISHED' AND user_id = 'alice'", _ids(3)),
    ("not (not (status = 'FINISHED'))", _ids(1, 4, 7)),
    ("params.lr = '0.01' and tags.team = 'nlp' or status = 'KILLED'", _ids(3, 5)),
    ("((metrics.loss > 0))", _ids(1, 3, 7)),
    (
        "metrics.loss > 0 AND (tags.team ILIKE 'vision' OR params.optimizer = 'SGD')"
        " AND NOT attributes.status = 'RUNNING'",
        _ids(1),
    ),
    ("NOT (params.lr = '0.01' AND NOT (metrics.loss > 0.1 OR tags.note IS NULL))", ALL - _ids(3)),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_run_filter(db: sa.Engine, text: str, expected: set[str]) -> None:
    assert _matching(db, text) == expected


def test_empty_filter_compiles_to_none() -> None:
    assert compile_run_filter("") is None
    assert compile_run_filter(" \t\n") is None


# (filter, text the message must quote, 1-based position)
MALFORMED: list[tuple[str, str, int]] = [
    ("metrics.loss LIKE 'a%'", "operator LIKE is not allowed on metrics", 14),
    ("metrics.loss IN (1, 2)", "operator IN is not allowed on metrics", 14),
    ("foo.bar = 1", "unknown entity 'foo'", 1),
    ("datasets.name = 'x'", "unknown entity 'datasets'", 1),
    ("attributes.bogus = 'x'", "unknown attribute 'bogus'", 1),
    ("metrics.loss > 'abc'", "'abc'", 16),
    ("params.lr = 0.01", "0.01", 13),
    ("params.lr LIKE 5", "5", 16),
    ("attributes.start_time > 'x'", "'x'", 25),
    ("attributes.status > 'A'", "operator > is not allowed on attribute 'status'", 19),
    ("params.lr = '0.01' )", "unexpected token ')'", 20),
    ("(params.lr = '0.01'", "end of input", 20),
    ("params.lr = 'abc", "unterminated string 'abc", 13),
    ("tags.`unterminated = 'x'", "unterminated", 6),
    ("tags.x IN ()", "empty IN list, unexpected token ')'", 12),
    ("params.x IN ('a',)", "token ')'", 18),
    ("params.x IN ('a' 'b')", "token 'b'", 18),
    ("params.lr = '1' garbage", "unexpected token 'garbage'", 17),
    ("params.lr = '1' AND", "end of input", 20),
    ("status = 'x' AND AND status = 'y'", "token 'AND'", 18),
    ("params.lr == '1'", "token '='", 12),
    ("params.lr ~ '1'", "unexpected character '~'", 11),
    ("metrics.loss > 1.2.3", "malformed number '1.2.3'", 16),
    ("metrics.loss > 1e999", "number 1e999 is out of range", 16),
    ("attributes.start_time > 99999999999999999999", "out of range", 25),
    ("tags. = 'x'", "'tags.'", 1),
    ("params.x IS 'a'", "expected NULL but found token 'a'", 13),
    ("params.lr LIKE 'a\\'", "LIKE pattern 'a\\' ends with a lone backslash", 16),
    ("params.a = 'x\0'", "NUL character", 14),
    ("params.a = '\ud800'", "lone surrogate", 13),
    ("= 'x'", "expected a field name but found token '='", 1),
    ("'x' = params.a", "expected a field name but found token 'x'", 1),
    ("params.a 'x'", "expected an operator but found token 'x'", 10),
    ("NOT " * 101 + "status = 'x'", "nesting deeper than 100 levels at token 'NOT'", 401),
    ("(" * 101 + "status = 'x'" + ")" * 101, "nesting deeper than 100 levels at token '('", 101),
]


@pytest.mark.parametrize(
    ("text", "quoted", "position"), MALFORMED, ids=[m[0][:40] for m in MALFORMED]
)
def test_malformed_filter(text: str, quoted: str, position: int) -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_run_filter(text)
    message = str(info.value)
    assert message.startswith("filter: ")
    assert quoted in message
    assert message.endswith(f"at position {position}")
    assert info.value.violations[0].field == "filter"


def test_limits_are_inclusive() -> None:
    assert compile_run_filter("NOT " * 100 + "status = 'x'") is not None
    assert compile_run_filter("(" * 100 + "status = 'x'" + ")" * 100) is not None
    padded = "status = 'x'" + " " * (16 * 1024 - len("status = 'x'"))
    assert compile_run_filter(padded) is not None
    with pytest.raises(InvalidArgument, match=r"^filter: longer than 16384 bytes$"):
        compile_run_filter(padded + " ")
    # The limit is in UTF-8 bytes, not characters.
    with pytest.raises(InvalidArgument, match="longer than 16384 bytes"):
        compile_run_filter("tags.x = '" + "é" * 8200 + "'")


DEEP = [
    "(" * 99 + "params.lr = 'x' OR metrics.loss > 1 AND NOT tags.t IN ('a','b')" + ")" * 99,
    "(params.lr = '0.01' OR NOT " * 50 + "attributes.end_time > 5" + ")" * 50,
    "(params.lr = '0.01' AND NOT " * 50 + "attributes.end_time > 5" + ")" * 50,
    " OR ".join(f"(tags.t{i} != 'x' AND attributes.end_time < 5)" for i in range(300)),
]


@pytest.mark.parametrize("text", DEEP, ids=["parens", "or-not", "and-not", "wide"])
def test_deep_and_wide_filters_run(db: sa.Engine, text: str) -> None:
    # SQLite's parser has a small stack; the compiler must keep the SQL shallow enough.
    _matching(db, text)
