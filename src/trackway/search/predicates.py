"""Turning one parsed comparison into SQL, shared by the run and experiment compilers.

Every predicate built here is two-valued (never SQL NULL), so `NOT` in a filter is the
exact complement of what it negates. That is why comparisons on nullable columns are
guarded with `IS NOT NULL`, and why metric, param and tag tests are EXISTS subqueries.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Float, String, and_, cast, false, literal, not_, or_, true

from trackway.errors import InvalidArgument
from trackway.search import like as like_ops
from trackway.search.lexer import shown, syntax_error
from trackway.search.nodes import And, Comparison, Node, Not, Or, Value, leaves, shallow_form

# `string`: text column; `float`: float column (metrics); `integer`: integer column
# (times); `id`: integer column that the language treats as a string (experiment_id).
Kind = Literal["string", "float", "integer", "id"]

NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})

_INT64 = (-(2**63), 2**63 - 1)
_CMP: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def build(node: Node, leaf: Callable[[Comparison], ColumnElement[bool]]) -> ColumnElement[bool]:
    """Compile a tree, calling `leaf` for each comparison in source order.

    Source order makes the first error reported the leftmost one; the SQL itself follows
    `shallow_form`, which keeps it within SQLite's parser limits.
    """
    compiled = {id(cmp): leaf(cmp) for cmp in leaves(node)}
    return _assemble(shallow_form(node), compiled)


def _assemble(node: Node, compiled: dict[int, ColumnElement[bool]]) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_assemble(item, compiled) for item in node.items))
    if isinstance(node, Or):
        return or_(*(_assemble(item, compiled) for item in node.items))
    if isinstance(node, Not):
        return not_(_assemble(node.item, compiled))
    return compiled[id(node)]


@dataclass(frozen=True)
class Attribute:
    """A column that filters and orders can name, and how the language treats it."""

    name: str
    column: ColumnElement[Any]
    kind: Kind
    nullable: bool = False


def check_op(cmp: Comparison, allowed: frozenset[str], label: str, field: str) -> None:
    """Fail unless `cmp.op` is one that `label` (e.g. "metrics") accepts."""
    if cmp.op not in allowed:
        raise syntax_error(field, f"operator {cmp.op} is not allowed on {label}", cmp.op_pos)


def compare(
    expr: ColumnElement[Any], kind: Kind, cmp: Comparison, label: str, field: str
) -> ColumnElement[bool]:
    """`expr op value` for any operator but IS [NOT] NULL, which callers handle."""
    if kind in ("float", "integer"):
        check_op(cmp, NUMERIC_OPS, label, field)
        value = _number(_single(cmp), kind, label, field)
        return _CMP[cmp.op](expr, value)
    check_op(cmp, STRING_OPS, label, field)
    if kind == "id":
        return _compare_id(expr, cmp, label, field)
    if cmp.op in ("IN", "NOT IN"):
        values = [_string(v, label, field) for v in _many(cmp)]
        return expr.in_(values) if cmp.op == "IN" else expr.not_in(values)
    text = _string(_single(cmp), label, field)
    return _string_op(expr, cmp, text, field)


def attribute_test(attribute: Attribute, cmp: Comparison, field: str) -> ColumnElement[bool]:
    """A comparison on a plain column, kept two-valued when the column is nullable."""
    label = f"attribute {shown(attribute.name)}"
    column = attribute.column
    if cmp.op in NULL_OPS:
        return column.is_(None) if cmp.op == "IS NULL" else column.is_not(None)
    test = compare(column, attribute.kind, cmp, label, field)
    return (column.is_not(None) & test) if attribute.nullable else test


def _string_op(
    expr: ColumnElement[Any], cmp: Comparison, text: str, field: str
) -> ColumnElement[bool]:
    if cmp.op in ("=", "!="):
        return _CMP[cmp.op](expr, text)
    negated = cmp.op.startswith("NOT ")
    build = like_ops.ilike if cmp.op.endswith("ILIKE") else like_ops.like
    try:
        test = build(expr, text)
    except like_ops.BadPattern:
        value = _single(cmp)
        raise syntax_error(
            field, f"LIKE pattern {value.text} ends with a lone backslash", value.pos
        ) from None
    return not_(test) if negated else test


def _compare_id(
    expr: ColumnElement[Any], cmp: Comparison, label: str, field: str
) -> ColumnElement[bool]:
    """Compare an integer id as the string it is on the wire, without losing the index.

    Equality and IN keep using the integer column; a literal that is not the canonical
    spelling of an int64 can never be equal to an id, so it drops out of the test.
    """
    if cmp.op in ("IN", "NOT IN", "=", "!="):
        values = _many(cmp) if cmp.op.endswith("IN") else (_single(cmp),)
        ids = [i for i in (_as_id(v) for v in values) if i is not None]
        positive = cmp.op in ("IN", "=")
        if not ids:
            return false() if positive else true()
        test = expr.in_(ids) if len(ids) > 1 else expr == ids[0]
        return test if positive else not_(test)
    text = _string(_single(cmp), label, field)
    return _string_op(cast(expr, String), cmp, text, field)


def _as_id(value: Value) -> int | None:
    if isinstance(value.value, bool):
        return None
    if isinstance(value.value, int):
        number = value.value
    elif isinstance(value.value, str) and value.value.isascii() and value.value.isdigit():
        number = int(value.value)
        if str(number) != value.value:
            return None
    else:
        return None
    return number if _INT64[0] <= number <= _INT64[1] else None


def _single(cmp: Comparison) -> Value:
    if not isinstance(cmp.operand, Value):
        raise InvalidArgument(f"internal: {cmp.op} without a single value")
    return cmp.operand


def _many(cmp: Comparison) -> tuple[Value, ...]:
    if not isinstance(cmp.operand, tuple):
        raise InvalidArgument(f"internal: {cmp.op} without a value list")
    return cmp.operand


def _string(value: Value, label: str, field: str) -> str:
    if not isinstance(value.value, str):
        raise syntax_error(
            field, f"expected a quoted string for {label} but found {value.text}", value.pos
        )
    return value.value


def _number(value: Value, kind: Kind, label: str, field: str) -> Any:
    raw = value.value
    if isinstance(raw, str):
        raise syntax_error(
            field, f"expected a number for {label} but found string {value.text}", value.pos
        )
    if kind == "integer" and isinstance(raw, int):
        if not _INT64[0] <= raw <= _INT64[1]:
            raise syntax_error(field, f"number {value.text} is out of range", value.pos)
        return raw
    try:
        number = float(raw)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise syntax_error(field, f"number {value.text} is out of range", value.pos)
    # An integer column compared to a fraction: bind the fraction as a float so that
    # neither database truncates it to an integer.
    return literal(number, Float()) if kind == "integer" else number
