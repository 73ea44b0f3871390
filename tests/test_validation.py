"""Unit tests of `trackway.tracking.validation`: every rule, table by table.

Each rejected input must raise InvalidArgument whose one field violation names the field
path it was given, and whose message starts with that path and says what to fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from trackway.errors import InvalidArgument
from trackway.tracking import limits
from trackway.tracking import validation as check
from trackway.tracking.entities import MetricColumns


def rejected(call: Any, field: str, says: str) -> InvalidArgument:
    """Runs `call`, which must fail on `field` with a message containing `says`."""
    with pytest.raises(InvalidArgument) as caught:
        call()
    error = caught.value
    assert [v.field for v in error.violations] == [field], error.violations
    assert error.violations[0].description
    assert error.message.startswith(f"{field}: "), error.message
    assert says in error.message, error.message
    assert error.code.name == "INVALID_ARGUMENT"
    assert error.reason == "INVALID_PARAMETER_VALUE"
    return error


# ---------------------------------------------------------------------------------------
# key: letters, digits, `_ - . /` and space; at most 250; a plain relative path
# ---------------------------------------------------------------------------------------

VALID_KEYS = [
    "loss",
    "train/loss",
    "a.b-c_d e",
    "x/y.z/w",
    "k" * limits.MAX_KEY_LENGTH,
    "Ünïcode",
    "1",
    "...",  # a segment of three dots is neither `.` nor `..`
    "..foo",  # nor is a segment that merely starts with `..` (MLflow refuses it; we need not)
    "v1.2/..hidden",
    "a..b",
    " ",
]

INVALID_KEYS = [
    ("", "must not be empty"),
    ("k" * (limits.MAX_KEY_LENGTH + 1), "is 251 characters; at most 250"),
    ("../x", "plain relative path"),
    ("..", "plain relative path"),
    (".", "plain relative path"),
    ("x/..", "plain relative path"),
    ("x/../y", "plain relative path"),
    ("./x", "plain relative path"),
    ("a/./b", "plain relative path"),
    ("/abs", "plain relative path"),
    ("a//b", "plain relative path"),
    ("a/", "plain relative path"),
    ("bad*chars", "may only hold"),
    ("semi;colon", "may only hold"),
    ("quote'", "may only hold"),
    ("tab\tkey", "may only hold"),
    ("new\nline", "may only hold"),
    ("trailing\n", "may only hold"),
    ("nul\x00", "may only hold"),
    ("back\\slash", "may only hold"),
]


@pytest.mark.parametrize("value", VALID_KEYS, ids=repr)
def test_key_accepts(value: str) -> None:
    check.key("metric.key", value)


@pytest.mark.parametrize(("value", "says"), INVALID_KEYS, ids=lambda v: repr(v)[:20])
def test_key_rejects(value: str, says: str) -> None:
    rejected(lambda: check.key("metric.key", value), "metric.key", says)


# ---------------------------------------------------------------------------------------
# text, timestamp and page_size
# ---------------------------------------------------------------------------------------

TEXT_CASES = [
    # (value, max_length, required, error or None)
    ("", 5, False, None),
    ("abcde", 5, True, None),
    ("héllo", 5, False, None),
    ("", 5, True, "is required"),
    ("abcdef", 5, False, "is 6 characters; at most 5"),
    ("a\x00b", 5, False, "NUL"),
]


@pytest.mark.parametrize(("value", "max_length", "required", "says"), TEXT_CASES)
def test_text(value: str, max_length: int, required: bool, says: str | None) -> None:
    def call() -> None:
        check.text("name", value, max_length, required=required)

    if says is None:
        call()
    else:
        rejected(call, "name", says)


@pytest.mark.parametrize("value", [0, 1, 1_700_000_000_000, 2**63 - 1])
def test_timestamp_accepts(value: int) -> None:
    check.timestamp("start_time", value)


@pytest.mark.parametrize("value", [-1, -(2**63)])
def test_timestamp_rejects_negative(value: int) -> None:
    rejected(lambda: check.timestamp("start_time", value), "start_time", "negative")


PAGE_SIZE_CASES = [
    # (value, result or error)
    (0, 25),
    (1, 1),
    (99, 99),
    (100, 100),
    (-1, "-1 is negative"),
    (101, "101 is over the maximum of 100"),
]


@pytest.mark.parametrize(("value", "expected"), PAGE_SIZE_CASES)
def test_page_size(value: int, expected: int | str) -> None:
    if isinstance(expected, int):
        assert check.page_size("page_size", value, 25, 100) == expected
    else:
        rejected(lambda: check.page_size("page_size", value, 25, 100), "page_size", expected)


# ---------------------------------------------------------------------------------------
# ids
# ---------------------------------------------------------------------------------------

RUN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is required"),
        (RUN_ID[:-1], "not a run id"),
        (RUN_ID + "0", "not a run id"),
        (RUN_ID.upper(), "not a run id"),
        ("g" * 32, "not a run id"),
        (RUN_ID[:8] + "-" + RUN_ID[9:], "not a run id"),
        (RUN_ID + "\n", "not a run id"),
        (" " + RUN_ID[1:], "not a run id"),
    ],
    ids=repr,
)
def test_run_id_rejects(value: str, says: str) -> None:
    rejected(lambda: check.run_id("run_id", value), "run_id", says)


def test_run_id_accepts_32_lowercase_hex() -> None:
    check.run_id("run_id", RUN_ID)
    check.run_id("run_id", "f" * 32)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("1", 1), ("007", 7), ("9" * 18, int("9" * 18))],
)
def test_experiment_id_returns_the_number(value: str, expected: int) -> None:
    assert check.experiment_id("experiment_id", value) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is required"),
        ("abc", "not an experiment id"),
        ("-1", "not an experiment id"),
        ("+1", "not an experiment id"),
        ("1.0", "not an experiment id"),
        (" 1", "not an experiment id"),
        ("1 ", "not an experiment id"),
        ("1\n", "not an experiment id"),
        ("\u0661", "not an experiment id"),  # ARABIC-INDIC DIGIT ONE is not an ASCII digit
        ("9" * 19, "not an experiment id"),
    ],
    ids=repr,
)
def test_experiment_id_rejects(value: str, says: str) -> None:
    rejected(lambda: check.experiment_id("experiment_id", value), "experiment_id", says)


@pytest.mark.parametrize(
    "value", ["", "a", "0f1e2d3c-4b5a-4789-9abc-def012345678", "job:42.retry_1", "r" * 64]
)
def test_request_id_accepts(value: str) -> None:
    check.request_id(value)


@pytest.mark.parametrize(
    "value", ["r" * 65, "has space", "slash/", "semi;", "trailing\n"], ids=repr
)
def test_request_id_rejects(value: str) -> None:
    rejected(lambda: check.request_id(value), "request_id", "at most 64 characters")


# ---------------------------------------------------------------------------------------
# params and tags lists
# ---------------------------------------------------------------------------------------

PARAMS_CASES = [
    # (items, max_count, violation field or None, words)
    ([], 3, None, ""),
    ([("a", "1"), ("b", "")], 3, None, ""),
    ([("a", "1"), ("a", "1")], 3, None, ""),  # a repeat with the same value is fine
    ([("a", "v" * limits.MAX_PARAM_VALUE_LENGTH)], 3, None, ""),
    ([("a", "1")] * 4, 3, "params", "has 4 entries; at most 3"),
    ([("a", "1"), ("a", "2")], 3, "params[1].key", "given twice with different values"),
    ([("a", "1"), ("../b", "2")], 3, "params[1].key", "plain relative path"),
    ([("a", "v" * (limits.MAX_PARAM_VALUE_LENGTH + 1))], 3, "params[0].value", "at most 6000"),
    ([("a", "nul\x00")], 3, "params[0].value", "NUL"),
]


@pytest.mark.parametrize(("items", "max_count", "field", "says"), PARAMS_CASES)
def test_params(items: list[tuple[str, str]], max_count: int, field: str | None, says: str) -> None:
    def call() -> None:
        check.params("params", items, max_count)

    if field is None:
        call()
    else:
        rejected(call, field, says)


TAGS_CASES = [
    ([], None, ""),
    ([("a", "1"), ("a", "2")], None, ""),  # tags may repeat: the last value wins later
    ([("a", "v" * 10)], None, ""),
    ([("a", "1")] * 4, "tags", "has 4 entries; at most 3"),
    ([("ok", "1"), ("", "2")], "tags[1].key", "must not be empty"),
    ([("a", "v" * 11)], "tags[0].value", "is 11 characters; at most 10"),
]


@pytest.mark.parametrize(("items", "field", "says"), TAGS_CASES)
def test_tags(items: list[tuple[str, str]], field: str | None, says: str) -> None:
    def call() -> None:
        check.tags("tags", items, 3, 10)

    if field is None:
        call()
    else:
        rejected(call, field, says)


# ---------------------------------------------------------------------------------------
# metric columns
# ---------------------------------------------------------------------------------------


def columns(key: str = "m", n: int = 2, **override: list[Any]) -> MetricColumns:
    col = MetricColumns(key, list(range(n)), [1000 + i for i in range(n)], [0.5] * n)
    for name, value in override.items():
        setattr(col, name, value)
    return col


METRIC_COLUMNS_CASES = [
    # (columns, max_points, violation field or point count)
    ([], 10, 0),
    ([columns(n=0)], 10, 0),
    ([columns("a", 3), columns("b", 7)], 10, 10),
    ([columns(values=[float("nan"), float("inf")])], 10, 2),
    ([columns("a", 3), columns("b", 8)], 10, ("metrics", "holds 11 points; at most 10")),
    ([columns(), columns("/abs")], 10, ("metrics[1].key", "plain relative path")),
    ([columns(steps=[1])], 10, ("metrics[0]", "1, 2 and 2 entries; they must have the same")),
    ([columns(timestamps=[1])], 10, ("metrics[0]", "must have the same length")),
    ([columns(values=[1.0])], 10, ("metrics[0]", "must have the same length")),
    ([columns(timestamps=[5, -1])], 10, ("metrics[0].timestamps", "must not be negative")),
]


@pytest.mark.parametrize(("cols", "max_points", "expected"), METRIC_COLUMNS_CASES)
def test_metric_columns(cols: list[MetricColumns], max_points: int, expected: Any) -> None:
    if isinstance(expected, int):
        assert check.metric_columns("metrics", cols, max_points) == expected
    else:
        field, says = expected
        rejected(lambda: check.metric_columns("metrics", cols, max_points), field, says)


# ---------------------------------------------------------------------------------------
# artifact locations: a folder strictly below the server's artifact root
# ---------------------------------------------------------------------------------------

ROOT = "file:///srv/artifacts"


@pytest.mark.parametrize(
    "uri", [f"{ROOT}/a", f"{ROOT}/a/b/c", f"{ROOT}/a/", f"{ROOT}/team one", f"{ROOT}/..a"]
)
def test_inside_root_accepts(uri: str) -> None:
    check.inside_root("artifact_location", uri, ROOT)


@pytest.mark.parametrize(
    "uri",
    [
        ROOT,
        f"{ROOT}/",
        f"{ROOT}x/a",  # a sibling whose name merely starts with the root's
        "file:///srv/other/a",
        "s3://bucket/a",
        f"{ROOT}/../escape",
        f"{ROOT}/a/../../escape",
        f"{ROOT}/./a",
        f"{ROOT}/a//b",
        f"{ROOT}/a\\..\\b",
        f"{ROOT}/%2e%2e/escape",
        "",
    ],
    ids=repr,
)
def test_inside_root_rejects(uri: str) -> None:
    rejected(
        lambda: check.inside_root("artifact_location", uri, ROOT),
        "artifact_location",
        "must be a folder below the server's artifact root 'file:///srv/artifacts'",
    )
