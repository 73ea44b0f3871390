"""Logged-model search: the filter and order_by compilers over `logged_models`.

The language is the one of run search (`trackway.search.parser`): AND, OR, NOT,
parentheses, IN, LIKE/ILIKE, IS [NOT] NULL. Prefixes and attribute names are
case-insensitive; metric, param and tag keys are not.

Fields:

- attributes (bare, or with `attributes.`, `attribute.`, `attr.`): `name`, `model_id`,
  `status`, `source_run_id` and `model_type` with the string operators;
  `creation_timestamp` (alias `creation_time`) and `last_updated_timestamp` (alias
  `last_updated_time`) with the numeric ones, in epoch ms. A model without a source run
  or a model type matches no comparison on it (test with `IS NULL`). `status` values may
  carry MLflow's `LOGGED_MODEL_` prefix: `status = 'LOGGED_MODEL_READY'` is
  `status = 'READY'`.
- `tags.<key>` (also `tag.`) and `params.<key>` (also `param.`, `parameter.`,
  `parameters.`): string operators and IS [NOT] NULL.
- `metrics.<key>` (also `metric.`): numeric operators; a model matches when any of its
  points of that key does (a NaN point never does). IS [NOT] NULL tests for a point.

With dataset filters, only metric points on one of those datasets count, for metric
comparisons and metric sort keys alike; a filter without metric comparisons then
requires a point on one of the datasets, as MLflow does.

Order: up to three `<field> [ASC|DESC]` over the same fields; a metric sorts by the
value of the model's latest point of that key (greatest timestamp, then step, then the
smallest run id). Missing values sort last. Unless the clauses include model_id,
`creation_timestamp DESC` (when absent) and then `model_id ASC` are appended, as MLflow
orders, which makes the order total.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, or_, select

from trackway.search.lexer import shown, syntax_error
from trackway.search.nodes import Comparison, Field, Value, leaves
from trackway.search.ordering import SortKey, parse_order_by
from trackway.search.parser import parse_filter
from trackway.search.predicates import NULL_OPS, Attribute, attribute_test, build, compare
from trackway.store.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from trackway.tracking.logged_model_entities import DatasetFilter

_FIELD = "filter"
_ORDER = "order_by"
_STATUS_PREFIX = "LOGGED_MODEL_"
_ENTITIES = {
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "tags": "tags",
    "tag": "tags",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "parameter": "params",
    "metrics": "metrics",
    "metric": "metrics",
}
_KEY_VALUE: dict[str, Table] = {"tags": logged_model_tags, "params": logged_model_params}


def _attributes(*items: Attribute, aliases: dict[str, str]) -> dict[str, Attribute]:
    table = {item.name: item for item in items}
    table.update({alias: table[target] for alias, target in aliases.items()})
    return table


ATTRIBUTES = _attributes(
    Attribute("name", logged_models.c.name, "string"),
    Attribute("model_id", logged_models.c.model_id, "string"),
    Attribute("status", logged_models.c.status, "string"),
    Attribute("source_run_id", logged_models.c.source_run_id, "string", nullable=True),
    Attribute("model_type", logged_models.c.model_type, "string", nullable=True),
    Attribute("creation_timestamp", logged_models.c.creation_timestamp, "integer"),
    Attribute("last_updated_timestamp", logged_models.c.last_updated_timestamp, "integer"),
    aliases={
        "creation_time": "creation_timestamp",
        "last_updated_time": "last_updated_timestamp",
    },
)


def _resolve(field: Field, field_name: str) -> tuple[str, str | Attribute]:
    """The entity of a field, with its key (tags, params, metrics) or its Attribute."""
    entity = "attributes" if field.prefix is None else _ENTITIES.get(field.prefix.lower())
    if entity is None:
        raise syntax_error(field_name, f"unknown entity {shown(field.prefix or '')}", field.pos)
    if entity != "attributes":
        return entity, field.key
    attribute = ATTRIBUTES.get(field.key.lower())
    if attribute is None:
        raise syntax_error(field_name, f"unknown attribute {shown(field.key)}", field.pos)
    return entity, attribute


def _in_datasets(datasets: Sequence[DatasetFilter]) -> list[ColumnElement[bool]]:
    """The condition on a metric point that limits it to the datasets (none: all)."""
    if not datasets:
        return []
    m = logged_model_metrics.c
    choices = [
        and_(m.dataset_name == d.name, m.dataset_digest == d.digest)
        if d.digest
        else m.dataset_name == d.name
        for d in datasets
    ]
    return [or_(*choices)]


def _metric_points(key: str | None, datasets: Sequence[DatasetFilter]) -> Any:
    """EXISTS over the model's points (of `key`, when given) on the datasets."""
    m = logged_model_metrics.c
    conditions = [m.model_id == logged_models.c.model_id, *_in_datasets(datasets)]
    if key is not None:
        conditions.append(m.key == key)
    return exists().where(*conditions)


# Filters


def compile_logged_model_filter(
    text: str, datasets: Sequence[DatasetFilter] = ()
) -> ColumnElement[bool] | None:
    """The WHERE clause over `logged_models`; None when nothing restricts the models."""
    node = parse_filter(text, _FIELD)
    where = None if node is None else build(node, lambda cmp: _comparison(cmp, datasets))
    has_metric_test = node is not None and any(
        _resolve(leaf.field, _FIELD)[0] == "metrics" for leaf in leaves(node)
    )
    if datasets and not has_metric_test:
        on_datasets = _metric_points(None, datasets).correlate(logged_models)
        where = on_datasets if where is None else and_(where, on_datasets)
    return where


def _comparison(cmp: Comparison, datasets: Sequence[DatasetFilter]) -> ColumnElement[bool]:
    entity, target = _resolve(cmp.field, _FIELD)
    if isinstance(target, Attribute):
        if target.name == "status":
            cmp = _without_status_prefix(cmp)
        return attribute_test(target, cmp, _FIELD)
    if entity == "metrics":
        correlated = _metric_points(target, datasets)
        column = logged_model_metrics.c.value
    else:
        table = _KEY_VALUE[entity]
        correlated = exists().where(
            table.c.model_id == logged_models.c.model_id, table.c.key == target
        )
        column = table.c.value
    if cmp.op in NULL_OPS:
        found = correlated.correlate(logged_models)
        return found if cmp.op == "IS NOT NULL" else ~found
    test = compare(column, "float" if entity == "metrics" else "string", cmp, entity, _FIELD)
    return correlated.where(test).correlate(logged_models)


def _without_status_prefix(cmp: Comparison) -> Comparison:
    """MLflow's clients spell statuses `LOGGED_MODEL_READY`; the table says `READY`."""
    if cmp.op not in ("=", "!=", "IN", "NOT IN"):
        return cmp

    def plain(value: Value) -> Value:
        if isinstance(value.value, str) and value.value.upper().startswith(_STATUS_PREFIX):
            return dataclasses.replace(value, value=value.value[len(_STATUS_PREFIX) :])
        return value

    if isinstance(cmp.operand, tuple):
        return dataclasses.replace(cmp, operand=tuple(plain(v) for v in cmp.operand))
    if isinstance(cmp.operand, Value):
        return dataclasses.replace(cmp, operand=plain(cmp.operand))
    return cmp


# Order


def compile_logged_model_order(
    order_by: Sequence[str], datasets: Sequence[DatasetFilter] = ()
) -> list[SortKey]:
    """Sort keys for logged models, ending with the model_id tiebreak."""
    keys = parse_order_by(order_by, lambda field, desc: _sort_key(field, desc, datasets)) or [
        SortKey("attributes.creation_timestamp", logged_models.c.creation_timestamp, True)
    ]
    names = {key.name for key in keys}
    if "attributes.model_id" not in names:
        if "attributes.creation_timestamp" not in names:
            keys.append(
                SortKey("attributes.creation_timestamp", logged_models.c.creation_timestamp, True)
            )
        keys.append(SortKey("attributes.model_id", logged_models.c.model_id, False))
    return keys


def _sort_key(field: Field, descending: bool, datasets: Sequence[DatasetFilter]) -> SortKey:
    entity, target = _resolve(field, _ORDER)
    if isinstance(target, Attribute):
        return SortKey(f"attributes.{target.name}", target.column, descending)
    if entity == "metrics":
        m = logged_model_metrics.c
        value = (
            select(m.value)
            .where(m.model_id == logged_models.c.model_id, m.key == target)
            .where(*_in_datasets(datasets))
            .order_by(m.timestamp.desc(), m.step.desc(), m.run_id.asc())
            .limit(1)
        )
    else:
        table = _KEY_VALUE[entity]
        value = select(table.c.value).where(
            table.c.model_id == logged_models.c.model_id, table.c.key == target
        )
    return SortKey(
        f"{entity}.{target}", value.correlate(logged_models).scalar_subquery(), descending
    )


__all__ = ["ATTRIBUTES", "compile_logged_model_filter", "compile_logged_model_order"]
