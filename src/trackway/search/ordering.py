"""Sort keys, portable NULLS LAST ordering and keyset ("seek") pagination.

A page continues strictly after the last row of the previous page, identified by that
row's sort values, so pages stay stable under concurrent inserts and cost the same at any
depth (unlike OFFSET). Callers select each key's expression next to the row, e.g.
`select(runs, *[k.expr.label(f"_k{i}") for i, k in enumerate(keys)])`, and put the last
row's values in the page token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Float, Integer, Numeric, String, and_, false, or_

from trackway.errors import InvalidArgument, invalid
from trackway.search.lexer import shown
from trackway.search.nodes import Field
from trackway.search.parser import parse_order_item

MAX_ORDER_CLAUSES = 3

_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term: a stable name, the SQL expression, and its direction."""

    name: str
    expr: ColumnElement[Any]
    descending: bool


def parse_order_by(
    order_by: Sequence[str], make_key: Callable[[Field, bool], SortKey]
) -> list[SortKey]:
    """Parse the user's clauses; errors quote the clause they come from."""
    if isinstance(order_by, str):
        raise invalid("order_by", "must be a list of clauses, not one string")
    if len(order_by) > MAX_ORDER_CLAUSES:
        raise invalid(
            "order_by", f"at most {MAX_ORDER_CLAUSES} clauses are allowed, got {len(order_by)}"
        )
    keys = []
    for clause in order_by:
        if not isinstance(clause, str):
            raise invalid("order_by", f"clauses must be strings, got {type(clause).__name__}")
        try:
            keys.append(make_key(*parse_order_item(clause)))
        except InvalidArgument as exc:
            detail = exc.message.removeprefix("order_by: ")
            raise invalid("order_by", f"invalid clause {shown(clause)}: {detail}") from None
    return keys


def _nullable(expr: ColumnElement[Any]) -> bool:
    # Scalar subqueries yield NULL for a missing key, so only plain columns are known.
    return not isinstance(expr, Column) or bool(expr.nullable)


def order_clauses(keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """ORDER BY terms with NULLs last in both directions, on SQLite and PostgreSQL alike.

    `expr IS NULL` sorts false before true, which puts NULLs last without relying on
    NULLS LAST (whose default differs between the two databases).
    """
    clauses: list[ColumnElement[Any]] = []
    for key in keys:
        if _nullable(key.expr):
            clauses.append(key.expr.is_(None))
        clauses.append(key.expr.desc() if key.descending else key.expr.asc())
    return clauses


def keyset_after(keys: Sequence[SortKey], last: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort values are `last`, in `order_clauses` order.

    `last` usually comes from a page token, so its length and value types are checked
    against the keys (InvalidArgument on `page_token`) before they reach the database.
    """
    if len(last) != len(keys) or not keys:
        raise invalid("page_token", "does not match the sort order")
    for key, value in zip(keys, last, strict=True):
        _check_value(key, value)
    condition: ColumnElement[bool] | None = None
    for key, value in reversed(list(zip(keys, last, strict=True))):
        after: ColumnElement[bool] | None = None
        if value is None:
            # Nothing sorts after NULL in this key; only ties on it can follow.
            equal = key.expr.is_(None)
        else:
            after = key.expr < value if key.descending else key.expr > value
            if _nullable(key.expr):
                after = or_(after, key.expr.is_(None))
            equal = key.expr == value
        if condition is None:
            condition = after if after is not None else false()
        elif after is None:
            condition = and_(equal, condition)
        else:
            condition = or_(after, and_(equal, condition))
    assert condition is not None
    return condition


def _check_value(key: SortKey, value: Any) -> None:
    if value is None:
        return
    kind = key.expr.type
    ok = True
    if isinstance(value, bool):
        ok = False
    elif isinstance(kind, Integer):
        ok = isinstance(value, int) and _INT64[0] <= value <= _INT64[1]
    elif isinstance(kind, (Float, Numeric)):
        ok = isinstance(value, float) and not math.isnan(value)
        ok = ok or (isinstance(value, int) and _INT64[0] <= value <= _INT64[1])
    elif isinstance(kind, String):
        ok = isinstance(value, str)
    if not ok:
        raise invalid("page_token", f"holds a bad value for {key.name}")
