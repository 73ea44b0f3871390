"""The syntax tree that the parser builds and the run and experiment compilers walk.

Nodes keep the positions of the source text they came from, so that errors found while
compiling (an unknown attribute, an operator a field does not take) can still point at it.
"""

from __future__ import annotations

from dataclasses import dataclass

Scalar = str | int | float


@dataclass(frozen=True)
class Field:
    """`prefix.key`, or a bare name (prefix None); `text` is the source as written."""

    prefix: str | None
    key: str
    text: str
    pos: int


@dataclass(frozen=True)
class Value:
    """A literal string or number and where it was written."""

    value: Scalar
    text: str
    pos: int

    @property
    def is_string(self) -> bool:
        return isinstance(self.value, str)


@dataclass(frozen=True)
class Comparison:
    """`field op operand`.

    `op` is canonical: `= != < <= > >=`, `LIKE`, `ILIKE`, `NOT LIKE`, `NOT ILIKE`, `IN`,
    `NOT IN`, `IS NULL` or `IS NOT NULL`. `operand` is one value for the comparison and
    LIKE operators, a non-empty tuple for IN, and None for IS [NOT] NULL.
    """

    field: Field
    op: str
    op_pos: int
    operand: Value | tuple[Value, ...] | None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Comparison | And | Or | Not


def leaves(node: Node) -> list[Comparison]:
    """The comparisons of a tree in source order."""
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, Not):
        return leaves(node.item)
    return [leaf for item in node.items for leaf in leaves(item)]


def shallow_form(node: Node) -> Node:
    """An equivalent tree that compiles to SQL with as little nesting as possible.

    SQLite's parser overflows at about 30 levels of `a AND (b OR (...))` but takes about
    90 levels of `((...) OR b) AND a`. So NOTs are pushed down to the comparisons (sound
    because every compiled comparison is two-valued), same-kind groups are merged, and
    each group lists its largest member first, which makes the nesting lean left and
    leaves at most log2(size) right-leaning steps on any path.
    """
    return _shallow(node, False)[0]


def _shallow(node: Node, negate: bool) -> tuple[Node, int]:
    if isinstance(node, Comparison):
        return (Not(node) if negate else node), 1
    if isinstance(node, Not):
        return _shallow(node.item, not negate)
    conjunction = isinstance(node, And) != negate
    kind: type[And] | type[Or] = And if conjunction else Or
    members: list[tuple[Node, int]] = []
    for item in node.items:
        child, size = _shallow(item, negate)
        if isinstance(child, kind):
            members.extend((grandchild, _size(grandchild)) for grandchild in child.items)
        else:
            members.append((child, size))
    members.sort(key=lambda member: -member[1])
    return kind(tuple(child for child, _ in members)), sum(size for _, size in members)


def _size(node: Node) -> int:
    return len(leaves(node))
