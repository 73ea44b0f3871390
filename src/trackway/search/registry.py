"""Registered model and model version search: filter and order_by compilers.

The language is the one of run search (`parser.py`): AND, OR, NOT, parentheses, IN,
IS [NOT] NULL, MLflow's LIKE/ILIKE. Prefixes and attribute names are case-insensitive;
attributes may be written bare or with `attributes.` (`attribute.`, `attr.`).

Registered models (over `registered_models`):

- `name` with the string operators (`= != LIKE ILIKE NOT LIKE NOT ILIKE IN NOT IN`);
- `creation_timestamp` (alias `timestamp`) and `last_updated_timestamp` with the numeric
  operators (`= != < <= > >=`), in epoch ms;
- `tags.<key>` (also `tag.`) with the string operators and IS [NOT] NULL.

Order: `name`, `creation_timestamp` (alias `timestamp`), `last_updated_timestamp`,
`[ASC|DESC]`; default `name ASC`, and `name ASC` ends every order (names are unique),
which makes it total.

Model versions (over `model_versions` joined to `registered_models` for the name):

- `name` (the model's), `run_id`, `source_path` (alias `source`, the source as given)
  and `current_stage` with the string operators; a version without a run matches no
  comparison on `run_id` (test it with `run_id IS NULL`);
- `version_number` (alias `version`) with the numeric operators and with IN / NOT IN
  over whole numbers;
- `creation_timestamp` (alias `timestamp`) and `last_updated_timestamp`, numeric;
- `tags.<key>` (also `tag.`) as for registered models.

Order: `name`, `version_number` (alias `version`), `creation_timestamp` (alias
`timestamp`), `last_updated_timestamp`; default `name ASC, version_number DESC`. Unless
present, `name ASC` and then `version_number DESC` are appended, which makes it total.

Semantics are those of run search: a tag comparison requires the tag to exist, and
`NOT expr` is the exact complement of `expr`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Table, exists, not_

from trackway.search.lexer import shown, syntax_error
from trackway.search.nodes import Comparison, Field, Value
from trackway.search.ordering import SortKey, parse_order_by
from trackway.search.parser import parse_filter
from trackway.search.predicates import (
    NULL_OPS,
    Attribute,
    attribute_test,
    build,
    check_op,
    compare,
)
from trackway.store.registry_schema import (
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)

_FIELD = "filter"
_ORDER = "order_by"
_ATTRIBUTE_PREFIXES = frozenset({"attributes", "attribute", "attr"})
_TAG_PREFIXES = frozenset({"tags", "tag"})
_INT64 = (-(2**63), 2**63 - 1)


def _table(*items: Attribute, aliases: dict[str, str]) -> dict[str, Attribute]:
    found = {item.name: item for item in items}
    found.update({alias: found[target] for alias, target in aliases.items()})
    return found


MODEL_ATTRIBUTES = _table(
    Attribute("name", registered_models.c.name, "string"),
    Attribute("creation_timestamp", registered_models.c.creation_timestamp, "integer"),
    Attribute("last_updated_timestamp", registered_models.c.last_updated_timestamp, "integer"),
    aliases={"timestamp": "creation_timestamp"},
)

VERSION_ATTRIBUTES = _table(
    Attribute("name", registered_models.c.name, "string"),
    Attribute("version_number", model_versions.c.version, "integer"),
    Attribute("run_id", model_versions.c.run_id, "string", nullable=True),
    Attribute("source_path", model_versions.c.source, "string"),
    Attribute("current_stage", model_versions.c.current_stage, "string"),
    Attribute("creation_timestamp", model_versions.c.creation_timestamp, "integer"),
    Attribute("last_updated_timestamp", model_versions.c.last_updated_timestamp, "integer"),
    aliases={
        "version": "version_number",
        "source": "source_path",
        "timestamp": "creation_timestamp",
    },
)
VERSION_ORDER_ATTRIBUTES = {
    key: value
    for key, value in VERSION_ATTRIBUTES.items()
    if value.name in ("name", "version_number", "creation_timestamp", "last_updated_timestamp")
}


def _resolve(field: Field, attributes: dict[str, Attribute], field_name: str) -> Attribute | None:
    """The attribute a field names, or None for a tag; errors for anything else."""
    prefix = None if field.prefix is None else field.prefix.lower()
    if prefix in _TAG_PREFIXES:
        return None
    if prefix is not None and prefix not in _ATTRIBUTE_PREFIXES:
        raise syntax_error(field_name, f"unknown entity {shown(field.prefix or '')}", field.pos)
    attribute = attributes.get(field.key.lower())
    if attribute is None:
        raise syntax_error(field_name, f"unknown attribute {shown(field.key)}", field.pos)
    return attribute


def _tag_test(
    cmp: Comparison, tags: Table, links: list[ColumnElement[bool]], outer: Table
) -> ColumnElement[bool]:
    correlated = exists().where(*links, tags.c.key == cmp.field.key)
    if cmp.op in NULL_OPS:
        found = correlated.correlate(outer)
        return found if cmp.op == "IS NOT NULL" else ~found
    test = compare(tags.c.value, "string", cmp, "tags", _FIELD)
    return correlated.where(test).correlate(outer)


# Registered models


def compile_registered_model_filter(text: str) -> ColumnElement[bool] | None:
    """The WHERE clause over `registered_models`; None when the filter is empty."""
    node = parse_filter(text, _FIELD)
    return None if node is None else build(node, _model_comparison)


def _model_comparison(cmp: Comparison) -> ColumnElement[bool]:
    attribute = _resolve(cmp.field, MODEL_ATTRIBUTES, _FIELD)
    if attribute is not None:
        return attribute_test(attribute, cmp, _FIELD)
    links = [registered_model_tags.c.model_id == registered_models.c.model_id]
    return _tag_test(cmp, registered_model_tags, links, registered_models)


def _model_sort_key(field: Field, descending: bool) -> SortKey:
    attribute = _resolve(field, MODEL_ATTRIBUTES, _ORDER)
    if attribute is None:
        raise syntax_error(_ORDER, f"cannot order by tag {shown(field.text)}", field.pos)
    return SortKey(attribute.name, attribute.column, descending)


def compile_registered_model_order(order_by: Sequence[str]) -> list[SortKey]:
    """Sort keys for registered models, ending with the unique name."""
    keys = parse_order_by(order_by, _model_sort_key)
    if all(key.name != "name" for key in keys):
        keys.append(SortKey("name", registered_models.c.name, False))
    return keys


# Model versions


def compile_model_version_filter(text: str) -> ColumnElement[bool] | None:
    """The WHERE clause over `model_versions` joined to `registered_models`; None when
    the filter is empty."""
    node = parse_filter(text, _FIELD)
    return None if node is None else build(node, _version_comparison)


def _version_comparison(cmp: Comparison) -> ColumnElement[bool]:
    attribute = _resolve(cmp.field, VERSION_ATTRIBUTES, _FIELD)
    if attribute is None:
        links = [
            model_version_tags.c.model_id == model_versions.c.model_id,
            model_version_tags.c.version == model_versions.c.version,
        ]
        return _tag_test(cmp, model_version_tags, links, model_versions)
    if attribute.kind == "integer" and cmp.op in ("IN", "NOT IN"):
        return _integer_in(attribute, cmp)
    return attribute_test(attribute, cmp, _FIELD)


def _integer_in(attribute: Attribute, cmp: Comparison) -> ColumnElement[bool]:
    """`version_number IN (1, 2)`: MLflow allows IN on version numbers."""
    check_op(cmp, frozenset({"IN", "NOT IN"}), f"attribute {shown(attribute.name)}", _FIELD)
    values = cmp.operand if isinstance(cmp.operand, tuple) else ()
    numbers = [_whole_number(attribute, value) for value in values]
    test = attribute.column.in_(numbers)
    return test if cmp.op == "IN" else not_(test)


def _whole_number(attribute: Attribute, value: Value) -> int:
    raw = value.value
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise syntax_error(
            _FIELD,
            f"expected a whole number for attribute {shown(attribute.name)} but found {value.text}",
            value.pos,
        )
    if not _INT64[0] <= raw <= _INT64[1]:
        raise syntax_error(_FIELD, f"number {value.text} is out of range", value.pos)
    return raw


def _version_sort_key(field: Field, descending: bool) -> SortKey:
    attribute = _resolve(field, VERSION_ORDER_ATTRIBUTES, _ORDER)
    if attribute is None:
        raise syntax_error(_ORDER, f"cannot order by tag {shown(field.text)}", field.pos)
    return SortKey(attribute.name, attribute.column, descending)


def compile_model_version_order(order_by: Sequence[str]) -> list[SortKey]:
    """Sort keys for model versions, ending with name and version number."""
    keys = parse_order_by(order_by, _version_sort_key)
    names = {key.name for key in keys}
    if "name" not in names:
        keys.append(SortKey("name", registered_models.c.name, False))
    if "version_number" not in names:
        keys.append(SortKey("version_number", model_versions.c.version, True))
    return keys


__all__ = [
    "MODEL_ATTRIBUTES",
    "VERSION_ATTRIBUTES",
    "compile_model_version_filter",
    "compile_model_version_order",
    "compile_registered_model_filter",
    "compile_registered_model_order",
]
