"""Experiment search: the filter and order_by compilers over the `experiments` table.

Filter fields: the attributes `name` (string operators), `creation_time` and
`last_update_time` (numeric operators), with or without an `attributes.` (`attribute.`,
`attr.`) prefix, and `tags.<key>` (also `tag.`) with the string operators and
IS [NOT] NULL. Operators and semantics are those of run search (see `runs.py`).

Order: name, experiment_id, creation_time or last_update_time, `[ASC|DESC]`, at most
`MAX_ORDER_CLAUSES` clauses. The default is `last_update_time DESC`, and unless the
clauses already include experiment_id, `experiment_id DESC` is appended so that the
order is total (newest id first, matching the newest-first default).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists

from trackway.search.lexer import shown, syntax_error
from trackway.search.nodes import Comparison, Field
from trackway.search.ordering import SortKey, parse_order_by
from trackway.search.parser import parse_filter
from trackway.search.predicates import NULL_OPS, Attribute, attribute_test, build, compare
from trackway.store.schema import experiment_tags, experiments

_FIELD = "filter"
_ATTRIBUTE_PREFIXES = frozenset({"attributes", "attribute", "attr"})
_TAG_PREFIXES = frozenset({"tags", "tag"})

FILTER_ATTRIBUTES = {
    "name": Attribute("name", experiments.c.name, "string"),
    "creation_time": Attribute("creation_time", experiments.c.creation_time, "integer"),
    "last_update_time": Attribute("last_update_time", experiments.c.last_update_time, "integer"),
}
ORDER_ATTRIBUTES = {
    **FILTER_ATTRIBUTES,
    "experiment_id": Attribute("experiment_id", experiments.c.experiment_id, "id"),
}


def _attribute(field: Field, table: dict[str, Attribute], field_name: str) -> Attribute | None:
    """The attribute a field names, or None for a tag; errors for anything else."""
    prefix = None if field.prefix is None else field.prefix.lower()
    if prefix in _TAG_PREFIXES:
        return None
    if prefix is not None and prefix not in _ATTRIBUTE_PREFIXES:
        raise syntax_error(field_name, f"unknown entity {shown(field.prefix or '')}", field.pos)
    attribute = table.get(field.key.lower())
    if attribute is None:
        raise syntax_error(field_name, f"unknown attribute {shown(field.key)}", field.pos)
    return attribute


def compile_experiment_filter(text: str) -> ColumnElement[bool] | None:
    """The WHERE clause for an experiment filter; None when the filter is empty."""
    node = parse_filter(text, _FIELD)
    return None if node is None else build(node, _comparison)


def _comparison(cmp: Comparison) -> ColumnElement[bool]:
    attribute = _attribute(cmp.field, FILTER_ATTRIBUTES, _FIELD)
    if attribute is not None:
        return attribute_test(attribute, cmp, _FIELD)
    correlated = exists().where(
        experiment_tags.c.experiment_id == experiments.c.experiment_id,
        experiment_tags.c.key == cmp.field.key,
    )
    if cmp.op in NULL_OPS:
        found = correlated.correlate(experiments)
        return found if cmp.op == "IS NOT NULL" else ~found
    test = compare(experiment_tags.c.value, "string", cmp, "tags", _FIELD)
    return correlated.where(test).correlate(experiments)


def _experiment_sort_key(field: Field, descending: bool) -> SortKey:
    attribute = _attribute(field, ORDER_ATTRIBUTES, "order_by")
    if attribute is None:
        raise syntax_error("order_by", f"cannot order by tag {shown(field.text)}", field.pos)
    return SortKey(attribute.name, attribute.column, descending)


def compile_experiment_order(order_by: Sequence[str]) -> list[SortKey]:
    """Sort keys for experiments, ending with the experiment_id tiebreak."""
    keys = parse_order_by(order_by, _experiment_sort_key) or [
        SortKey("last_update_time", experiments.c.last_update_time, True)
    ]
    if all(key.name != "experiment_id" for key in keys):
        keys.append(SortKey("experiment_id", experiments.c.experiment_id, True))
    return keys
