"""Signature inference, its MLmodel form (MLflow's), and validate_input's checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trackway.errors import InvalidArgument
from trackway.models import ColumnSpec, Signature, TensorSpec, infer_signature, validate_input


def test_column_types_are_inferred_as_mlflow_names_them() -> None:
    frame = pd.DataFrame(
        {
            "flag": [True, False],
            "small": np.array([1, 2], dtype=np.int32),
            "big": np.array([1, 2], dtype=np.int64),
            "f32": np.array([0.5, 1.5], dtype=np.float32),
            "f64": [0.5, 1.5],
            "text": ["a", "b"],
            "blob": [b"x", b"y"],
            "when": pd.to_datetime(["2024-01-01", "2024-02-01"]),
        }
    )
    inputs = infer_signature(frame).inputs
    assert [(c.name, c.type) for c in inputs] == [
        ("flag", "boolean"),
        ("small", "integer"),
        ("big", "long"),
        ("f32", "float"),
        ("f64", "double"),
        ("text", "string"),
        ("blob", "binary"),
        ("when", "datetime"),
    ]
    # Dicts of columns and lists of records are tables too.
    assert infer_signature({"a": [1.0], "b": ["x"]}).inputs == [
        ColumnSpec("double", "a"),
        ColumnSpec("string", "b"),
    ]
    assert infer_signature([{"a": 1}, {"a": 2}]).inputs == [ColumnSpec("long", "a")]
    with pytest.raises(TypeError, match="one scalar type"):
        infer_signature(pd.DataFrame({"mixed": [1, "a"]}))


def test_tensor_signatures_and_the_mlflow_form() -> None:
    signature = infer_signature(np.zeros((4, 28, 28), dtype=np.float32), np.array([1, 2]))
    assert signature.inputs == [TensorSpec("float32", (-1, 28, 28))]
    form = signature.to_dict()
    assert json.loads(form["inputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}}
    ]
    assert Signature.from_dict(form) == signature
    assert signature.is_tensor_based


def test_mlflow_compound_types_are_kept_as_written() -> None:
    text = json.dumps(
        [
            {"type": "array", "items": {"type": "string"}, "name": "tags", "required": True},
            {"type": "double", "name": "x", "required": False},
        ]
    )
    signature = Signature.from_dict({"inputs": text, "outputs": None, "params": None})
    assert signature.inputs[0].type == "array" and signature.inputs[1].required is False
    assert json.loads(signature.to_dict()["inputs"]) == json.loads(text)
    # Presence is all that is checked of a compound column; an optional one may be missing.
    checked = validate_input(signature, pd.DataFrame({"tags": [["a"], ["b", "c"]]}))
    assert list(checked.columns) == ["tags"]
    with pytest.raises(InvalidArgument, match="missing column 'tags'"):
        validate_input(signature, pd.DataFrame({"x": [1.0]}))


COLUMNS = Signature([ColumnSpec("double", "size"), ColumnSpec("long", "rooms")])


def test_columns_are_selected_ordered_and_converted() -> None:
    data = pd.DataFrame({"rooms": [2.0, 3.0], "size": [1, 2], "extra": ["dropped", "too"]})
    checked = validate_input(COLUMNS, data)
    assert list(checked.columns) == ["size", "rooms"]
    assert checked["size"].dtype == np.float64 and checked["rooms"].dtype == np.int64
    assert checked["rooms"].tolist() == [2, 3]
    # Records, a dict of columns, and rows in signature order are accepted.
    for form in (
        [{"size": 1.5, "rooms": 2}, {"size": 2.5, "rooms": 3}],
        {"size": [1.5, 2.5], "rooms": [2, 3]},
        [[1.5, 2], [2.5, 3]],
    ):
        checked = validate_input(COLUMNS, form)
        assert checked.to_dict("list") == {"size": [1.5, 2.5], "rooms": [2, 3]}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (pd.DataFrame({"size": [1.0]}), ["missing column 'rooms'"]),
        (pd.DataFrame({"other": [1.0]}), ["missing column 'size'", "missing column 'rooms'"]),
        (
            pd.DataFrame({"size": ["big"], "rooms": [1]}),
            ["column 'size' must be double", "got values of type str"],
        ),
        (
            pd.DataFrame({"size": [1.0], "rooms": [2.5]}),
            ["column 'rooms' must be long", "with fractions"],
        ),
        (pd.DataFrame({"size": [1.0], "rooms": [np.nan]}), ["missing values (NaN)"]),
        (pd.DataFrame({"size": [True], "rooms": [1]}), ["column 'size' must be double"]),
        ([[1.0, 2, 3]], ["expected rows of 2 values"]),
        ("text", ["expected a table"]),
    ],
)
def test_column_mismatches_name_the_problem(data: object, words: list[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_input(COLUMNS, data)
    for word in words:
        assert word in str(caught.value)
    assert caught.value.violations  # one FieldViolation per problem, for a 400 body


def test_the_violations_name_each_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_input(COLUMNS, pd.DataFrame({"size": ["x"]}))
    assert {v.field for v in caught.value.violations} == {"size", "rooms"}


def test_other_column_types() -> None:
    signature = Signature(
        [
            ColumnSpec("string", "name"),
            ColumnSpec("boolean", "ok"),
            ColumnSpec("datetime", "at"),
            ColumnSpec("integer", "n"),
            ColumnSpec("binary", "raw", required=False),
        ]
    )
    checked = validate_input(
        signature,
        {"name": ["a"], "ok": [True], "at": ["2024-05-01T10:00:00"], "n": [7]},
    )
    assert checked["at"].iloc[0] == pd.Timestamp("2024-05-01T10:00:00")
    assert checked["n"].dtype == np.int32 and "raw" not in checked
    for column, value, word in (
        ("name", 1, "column 'name' must be string"),
        ("ok", "yes", "column 'ok' must be boolean"),
        ("at", "soon", "not ISO 8601"),
        ("n", 2**40, "outside the int32 range"),
    ):
        row = {"name": ["a"], "ok": [True], "at": ["2024-05-01"], "n": [7], column: [value]}
        with pytest.raises(InvalidArgument, match=word):
            validate_input(signature, row)


TENSOR = Signature([TensorSpec("float64", (-1, 3))])


def test_tensors_are_checked_for_shape_and_type() -> None:
    checked = validate_input(TENSOR, [[1, 2, 3], [4, 5, 6]])
    assert checked.dtype == np.float64 and checked.shape == (2, 3)
    frame = pd.DataFrame([[1.0, 2.0, 3.0]])
    assert validate_input(TENSOR, frame).shape == (1, 3)
    with pytest.raises(InvalidArgument, match=r"must have shape \(any, 3\), got \(2, 2\)"):
        validate_input(TENSOR, np.zeros((2, 2)))
    with pytest.raises(InvalidArgument, match="must be float64, got values of type <U1"):
        validate_input(TENSOR, np.array([["a", "b", "c"]]))
    integers = Signature([TensorSpec("int64", (-1,))])
    with pytest.raises(InvalidArgument, match="must be int64, got values of type float64"):
        validate_input(integers, np.array([1.5]))


def test_named_tensors_take_a_dict() -> None:
    signature = Signature(
        [TensorSpec("float32", (-1, 2), "image"), TensorSpec("int64", (-1,), "ids")]
    )
    checked = validate_input(signature, {"image": [[1, 2]], "ids": [3]})
    assert checked["image"].dtype == np.float32 and checked["ids"].tolist() == [3]
    with pytest.raises(InvalidArgument, match="missing tensor 'ids'"):
        validate_input(signature, {"image": [[1, 2]]})
    with pytest.raises(InvalidArgument, match="expected a dict of the tensors"):
        validate_input(signature, [[1, 2]])


def test_no_signature_passes_data_through() -> None:
    assert validate_input(None, [1, 2]) == [1, 2]
    assert list(validate_input(None, [{"a": 1}]).columns) == ["a"]


def test_columns_of_different_lengths_are_invalid_argument() -> None:
    uneven = {"size": [1.0, 2.0, 3.0], "rooms": [1]}
    for signature in (COLUMNS, None):  # with and without a signature to check against
        with pytest.raises(InvalidArgument) as caught:
            validate_input(signature, uneven)
        assert "same number of values; 'size' has 3, 'rooms' has 1" in str(caught.value)
        assert [v.field for v in caught.value.violations] == ["input"]
    # A scalar is not a column of its own length: it is repeated for every row.
    assert validate_input(COLUMNS, {"size": [1.0, 2.0], "rooms": 3})["rooms"].tolist() == [3, 3]
