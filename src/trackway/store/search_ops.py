"""Run and experiment search: the filter compiles to SQL, pages are keyset pages.

Runs are never loaded into Python to be filtered or sorted. A page token carries the
sort values of the last row and a fingerprint of the query, so the next page starts
strictly after that row: runs written meanwhile can neither repeat nor skip a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from trackway import search
from trackway.store import experiment_ops, rows, run_ops
from trackway.store.schema import experiments, runs
from trackway.tracking.entities import ACTIVE, DELETED, Experiment, Page, Run

VIEW_STAGES = {"active": (ACTIVE,), "deleted": (DELETED,), "all": (ACTIVE, DELETED)}


def _page(
    conn: Connection,
    table_query: Any,
    keys: Sequence[search.SortKey],
    conditions: list[Any],
    fingerprint: str,
    page_size: int,
    page_token: str,
) -> tuple[list[Any], str]:
    if page_token:
        conditions.append(
            search.keyset_after(keys, search.decode_page_token(page_token, fingerprint))
        )
    labels = [k.expr.label(f"_k{i}") for i, k in enumerate(keys)]
    query = (
        table_query.add_columns(*labels)
        .where(*conditions)
        .order_by(*search.order_clauses(keys))
        .limit(page_size + 1)
    )
    found = conn.execute(query).all()
    if len(found) <= page_size:
        return list(found), ""
    found = found[:page_size]
    last = found[-1]._mapping
    token = search.encode_page_token(fingerprint, [last[f"_k{i}"] for i in range(len(keys))])
    return list(found), token


def search_runs(
    conn: Connection,
    *,
    experiment_ids: Sequence[int],
    filter_text: str,
    order_by: Sequence[str],
    view: str,
    page_size: int,
    page_token: str,
    with_data: bool,
) -> Page[Run]:
    where = search.compile_run_filter(filter_text)
    keys = search.compile_run_order(order_by)
    fingerprint = search.query_fingerprint(
        "runs", sorted(experiment_ids), filter_text, list(order_by), view
    )
    conditions: list[Any] = [runs.c.lifecycle_stage.in_(VIEW_STAGES[view])]
    if experiment_ids:
        conditions.append(runs.c.experiment_id.in_(list(experiment_ids)))
    if where is not None:
        conditions.append(where)
    found, token = _page(conn, select(runs), keys, conditions, fingerprint, page_size, page_token)
    infos = [rows.run_info(r) for r in found]
    return Page(run_ops.load(conn, infos, with_data=with_data), token)


def search_experiments(
    conn: Connection,
    *,
    filter_text: str,
    order_by: Sequence[str],
    view: str,
    page_size: int,
    page_token: str,
) -> Page[Experiment]:
    where = search.compile_experiment_filter(filter_text)
    keys = search.compile_experiment_order(order_by)
    fingerprint = search.query_fingerprint("experiments", filter_text, list(order_by), view)
    conditions: list[Any] = [experiments.c.lifecycle_stage.in_(VIEW_STAGES[view])]
    if where is not None:
        conditions.append(where)
    found, token = _page(
        conn, select(experiments), keys, conditions, fingerprint, page_size, page_token
    )
    tag_map = experiment_ops.tags_of(conn, [r.experiment_id for r in found])
    return Page([rows.experiment(r, tag_map[r.experiment_id]) for r in found], token)
