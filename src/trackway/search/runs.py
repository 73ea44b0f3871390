"""Run search: the filter and order_by compilers over the `runs` table.

Fields (prefixes are case-insensitive):

- `metrics.<key>` (also `metric.`): the latest value of the metric, compared with
  `= != <> < <= > >=` against a number. A NaN latest value never matches a comparison.
- `params.<key>` (also `param.`, `parameter.`, `parameters.`) and `tags.<key>` (also
  `tag.`): compared with `= != LIKE ILIKE NOT LIKE NOT ILIKE IN NOT IN` against strings.
- `attributes.<name>` (also `attribute.`, `attr.`, `run.`, or no prefix at all): the
  string attributes run_id, run_name (alias `name`, `"run name"`), status, user_id,
  artifact_uri, lifecycle_stage, parent_run_id and experiment_id take the string
  operators; the numeric attributes start_time (alias `created`) and end_time take the
  numeric ones. experiment_id is a string in the language, as on the wire.

Semantics:

- As in MLflow, every comparison on a metric, param or tag requires the key to exist:
  `params.x != 'a'` matches runs that have param x with another value, not runs without
  x. The same holds for `NOT LIKE`, `NOT IN` and for nullable attributes (end_time,
  parent_run_id): a missing value matches no comparison.
- `IS NULL` / `IS NOT NULL` test whether a metric, param or tag key is absent / present
  (a NaN metric is present), and whether a nullable attribute is null.
- `NOT expr` is the complement of `expr`: `NOT params.x = 'a'` also matches runs without x.

Order: `<field> [ASC|DESC]`, at most `MAX_ORDER_CLAUSES` clauses, on metrics (latest
value), params, tags (value) or any attribute above. Missing values and NaN sort last in
both directions. Unless the clauses already include run_id, `start_time DESC` (if absent)
and then `run_id ASC` are appended, as MLflow does, which makes the order total.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Table, exists, select

from trackway.search.lexer import shown, syntax_error
from trackway.search.nodes import Comparison, Field
from trackway.search.ordering import SortKey, parse_order_by
from trackway.search.parser import parse_filter
from trackway.search.predicates import (
    NULL_OPS,
    Attribute,
    Kind,
    attribute_test,
    build,
    compare,
)
from trackway.store.schema import metric_series, params, runs, tags

_FIELD = "filter"

_ENTITIES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "parameter": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}


def _attributes(*items: Attribute, aliases: dict[str, str]) -> dict[str, Attribute]:
    table = {item.name: item for item in items}
    table.update({alias: table[target] for alias, target in aliases.items()})
    return table


ATTRIBUTES = _attributes(
    Attribute("run_id", runs.c.run_id, "string"),
    Attribute("run_name", runs.c.name, "string"),
    Attribute("status", runs.c.status, "string"),
    Attribute("user_id", runs.c.user_id, "string"),
    Attribute("artifact_uri", runs.c.artifact_uri, "string"),
    Attribute("lifecycle_stage", runs.c.lifecycle_stage, "string"),
    Attribute("parent_run_id", runs.c.parent_run_id, "string", nullable=True),
    Attribute("experiment_id", runs.c.experiment_id, "id"),
    Attribute("start_time", runs.c.start_time, "integer"),
    Attribute("end_time", runs.c.end_time, "integer", nullable=True),
    aliases={"name": "run_name", "run name": "run_name", "created": "start_time"},
)

# The table holding each key-value entity, and the column its comparisons look at.
_KEY_VALUE: dict[str, tuple[Table, str]] = {
    "metrics": (metric_series, "last_value"),
    "params": (params, "value"),
    "tags": (tags, "value"),
}


def resolve(field: Field, field_name: str) -> tuple[str, str | Attribute]:
    """The entity of a field, with its key (metrics/params/tags) or its Attribute."""
    entity = "attributes" if field.prefix is None else _ENTITIES.get(field.prefix.lower())
    if entity is None:
        raise syntax_error(field_name, f"unknown entity {shown(field.prefix or '')}", field.pos)
    if entity != "attributes":
        return entity, field.key
    attribute = ATTRIBUTES.get(field.key.lower())
    if attribute is None:
        raise syntax_error(field_name, f"unknown attribute {shown(field.key)}", field.pos)
    return entity, attribute


_SELECTIVE_OPS = frozenset({"=", "IN"})


def compile_run_filter(text: str) -> ColumnElement[bool] | None:
    """The WHERE clause for a run filter over `runs`; None when the filter is empty."""
    node = parse_filter(text, _FIELD)
    return None if node is None else build(node, _comparison)


def _comparison(cmp: Comparison) -> ColumnElement[bool]:
    entity, target = resolve(cmp.field, _FIELD)
    if isinstance(target, Attribute):
        return attribute_test(target, cmp, _FIELD)
    table, column = _KEY_VALUE[entity]
    correlated = exists().where(table.c.run_id == runs.c.run_id, table.c.key == target)
    if cmp.op in NULL_OPS:
        found = correlated.correlate(runs)
        return found if cmp.op == "IS NOT NULL" else ~found
    kind: Kind = "float" if entity == "metrics" else "string"
    test = compare(table.c[column], kind, cmp, entity, _FIELD)
    if entity != "metrics" and cmp.op in _SELECTIVE_OPS:
        # An exact param or tag value is usually rare: the (key, value) index finds its
        # runs first, instead of probing every run of the experiments.
        return runs.c.run_id.in_(select(table.c.run_id).where(table.c.key == target, test))
    return correlated.where(test).correlate(runs)


def _run_sort_key(field: Field, descending: bool) -> SortKey:
    entity, target = resolve(field, "order_by")
    if isinstance(target, Attribute):
        return SortKey(f"attributes.{target.name}", target.column, descending)
    table, column = _KEY_VALUE[entity]
    value = (
        select(table.c[column])
        .where(table.c.run_id == runs.c.run_id, table.c.key == target)
        .correlate(runs)
        .scalar_subquery()
    )
    return SortKey(f"{entity}.{target}", value, descending)


def compile_run_order(order_by: Sequence[str]) -> list[SortKey]:
    """Sort keys for runs, ending with the run_id tiebreak; default start_time DESC."""
    keys = parse_order_by(order_by, _run_sort_key) or [
        SortKey("attributes.start_time", runs.c.start_time, True)
    ]
    names = {key.name for key in keys}
    if "attributes.run_id" not in names:
        if "attributes.start_time" not in names:
            keys.append(SortKey("attributes.start_time", runs.c.start_time, True))
        keys.append(SortKey("attributes.run_id", runs.c.run_id, False))
    return keys


__all__ = ["ATTRIBUTES", "compile_run_filter", "compile_run_order"]
