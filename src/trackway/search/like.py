"""LIKE and ILIKE with the same meaning on SQLite and PostgreSQL.

Pattern language: `%` matches any run of characters, `_` exactly one, and a backslash
makes the next character literal (`50\\%`, `a\\_b`, `c:\\\\temp`), as PostgreSQL does by
default. A pattern ending in a lone backslash is an error.

LIKE is case-sensitive and ILIKE case-insensitive on both databases. SQLite's LIKE ignores
ASCII case and its `PRAGMA case_sensitive_like` is per connection (connections are pooled
and shared), so on SQLite a case-sensitive LIKE is compiled to the equivalent GLOB, which
always respects case. Case folding for ILIKE is SQLite's `lower()`, which folds ASCII
only; PostgreSQL's ILIKE also folds other scripts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

ESCAPE = "\\"


class BadPattern(ValueError):
    """The pattern ends with a lone escape character."""


def _parse(pattern: str) -> list[str | None]:
    """Split a pattern into literal characters, with None for `_` and "" for `%`."""
    parts: list[str | None] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == ESCAPE:
            nxt = next(chars, None)
            if nxt is None:
                raise BadPattern(pattern)
            parts.append(nxt)
        elif ch == "%":
            parts.append("")
        elif ch == "_":
            parts.append(None)
        else:
            parts.append(ch)
    return parts


def to_like(pattern: str) -> str:
    """The pattern rewritten so that only `%`, `_` and `\\` are ever escaped."""
    out = []
    for part in _parse(pattern):
        if part is None:
            out.append("_")
        elif part == "":
            out.append("%")
        elif part in ("%", "_", ESCAPE):
            out.append(ESCAPE + part)
        else:
            out.append(part)
    return "".join(out)


def to_glob(pattern: str) -> str:
    """The equivalent SQLite GLOB pattern (`*`, `?`, and `[c]` for a literal `*?[`)."""
    out = []
    for part in _parse(pattern):
        if part is None:
            out.append("?")
        elif part == "":
            out.append("*")
        elif part in ("*", "?", "["):
            out.append(f"[{part}]")
        else:
            out.append(part)
    return "".join(out)


class CaseSensitiveLike(ColumnElement[bool]):
    """`expr LIKE pattern` that respects case on every backend (GLOB on SQLite)."""

    __visit_name__ = "trackway_case_sensitive_like"
    inherit_cache = True
    _traverse_internals = [
        ("expr", InternalTraversal.dp_clauseelement),
        ("like_pattern", InternalTraversal.dp_clauseelement),
        ("glob_pattern", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    # Render as a bare predicate rather than `(... ) = 1` on backends without booleans.
    _is_implicitly_boolean = True

    def __init__(self, expr: ColumnElement[Any], pattern: str) -> None:
        self.expr = expr
        self.like_pattern = literal(to_like(pattern), String())
        self.glob_pattern = literal(to_glob(pattern), String())


@compiles(CaseSensitiveLike)
def _compile_like(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    test = element.expr.like(element.like_pattern, escape=ESCAPE)
    return f"({compiler.process(test, **kw)})"


@compiles(CaseSensitiveLike, "sqlite")
def _compile_glob(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    test = element.expr.op("GLOB")(element.glob_pattern)
    return f"({compiler.process(test, **kw)})"


def like(expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """Case-sensitive LIKE; raises BadPattern for a trailing lone backslash."""
    return CaseSensitiveLike(expr, pattern)


def ilike(expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """Case-insensitive LIKE; raises BadPattern for a trailing lone backslash."""
    return expr.ilike(to_like(pattern), escape=ESCAPE)
