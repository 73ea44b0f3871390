"""Run and experiment search: the filter language, sort orders and keyset page tokens.

The language is a superset of MLflow's search syntax (OR, NOT, parentheses, IN on any
string field, IS [NOT] NULL); `parser.py` documents the grammar, `runs.py` and
`experiments.py` the fields and semantics, `like.py` the LIKE patterns. Everything
compiles to SQLAlchemy Core over `trackway.store.schema` and behaves the same on SQLite
and PostgreSQL. Bad input raises `trackway.errors.InvalidArgument` on the `filter`,
`order_by` or `page_token` field.

A store runs a search as::

    where = compile_run_filter(filter)
    keys = compile_run_order(order_by)
    fingerprint = query_fingerprint(experiment_ids, filter, order_by, view_type)
    query = select(runs, *[k.expr.label(f"_k{i}") for i, k in enumerate(keys)])
    if where is not None:
        query = query.where(where)
    if page_token:
        query = query.where(keyset_after(keys, decode_page_token(page_token, fingerprint)))
    rows = conn.execute(query.order_by(*order_clauses(keys)).limit(page_size + 1)).all()
    # If there is a next page, its token is encode_page_token(fingerprint, the _k values
    # of the last returned row).
"""

from trackway.search.experiments import compile_experiment_filter, compile_experiment_order
from trackway.search.ordering import MAX_ORDER_CLAUSES, SortKey, keyset_after, order_clauses
from trackway.search.page_token import decode_page_token, encode_page_token, query_fingerprint
from trackway.search.parser import MAX_DEPTH, MAX_FILTER_BYTES
from trackway.search.runs import compile_run_filter, compile_run_order

__all__ = [
    "MAX_DEPTH",
    "MAX_FILTER_BYTES",
    "MAX_ORDER_CLAUSES",
    "SortKey",
    "compile_experiment_filter",
    "compile_experiment_order",
    "compile_run_filter",
    "compile_run_order",
    "decode_page_token",
    "encode_page_token",
    "keyset_after",
    "order_clauses",
    "query_fingerprint",
]

from trackway.search.registry import (
    compile_model_version_filter,
    compile_model_version_order,
    compile_registered_model_filter,
    compile_registered_model_order,
)

__all__ += [
    "compile_model_version_filter",
    "compile_model_version_order",
    "compile_registered_model_filter",
    "compile_registered_model_order",
]
