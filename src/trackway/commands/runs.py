"""`trackway runs list|describe|search|compare`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from trackway.commands.common import client_for, command, emit_json, group, table, when
from trackway.commands.experiments import resolve

if TYPE_CHECKING:
    from trackway.client import Run, TrackwayClient


def register(sub: Any) -> None:
    cmds = group(sub, "runs", "list, search, describe and compare runs")
    p = command(cmds, "list", "list the runs of experiments", _list)
    _search_args(p, filter_required=False)
    p = command(cmds, "search", "search runs with a filter", _list)
    _search_args(p, filter_required=True)
    p = command(cmds, "describe", "show a run's info, params, metrics and tags", _describe)
    p.add_argument("run_id")
    p = command(cmds, "compare", "compare two runs side by side, marking differences", _compare)
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--all", action="store_true", help="also show system tags (mlflow.*)")


def _search_args(p: argparse.ArgumentParser, *, filter_required: bool) -> None:
    p.add_argument(
        "-e",
        "--experiment",
        dest="experiments",
        action="append",
        default=[],
        help="experiment id or name (repeatable; default: all experiments)",
    )
    p.add_argument(
        "--filter",
        required=filter_required,
        default="",
        help="e.g. \"metrics.loss < 0.1 AND params.lr = '0.01'\"",
    )
    p.add_argument("--order-by", action="append", default=[], help="e.g. 'metrics.loss ASC'")
    p.add_argument("--view", choices=("active", "deleted", "all"), default="active")
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument(
        "--columns",
        default="",
        help="extra columns, comma-separated: metrics.<key>, params.<key>, tags.<key>",
    )


def _search(client: TrackwayClient, args: argparse.Namespace) -> list[Run]:
    ids = [resolve(client, e) for e in args.experiments]
    runs: list[Run] = []
    token = ""
    while len(runs) < args.max_results:
        page = client.search_runs(
            ids,
            args.filter,
            args.view,
            min(args.max_results - len(runs), 50_000),
            args.order_by,
            token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


def _value(run: Run, column: str) -> Any:
    entity, _, key = column.partition(".")
    sources: dict[str, dict[str, Any]] = {
        "metrics": run.data.metrics,
        "params": run.data.params,
        "tags": run.data.tags,
    }
    return sources.get(entity, {}).get(key)


def _list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        runs = _search(client, args)
    if args.json:
        emit_json([_run_json(r) for r in runs])
        return 0
    extra = [c.strip() for c in args.columns.split(",") if c.strip()]
    table(
        ["RUN ID", "NAME", "EXPERIMENT", "STATUS", "STARTED", *extra],
        [
            (
                r.info.run_id,
                r.info.run_name,
                r.info.experiment_id,
                r.info.status,
                when(r.info.start_time),
                *(_value(r, c) for c in extra),
            )
            for r in runs
        ],
        empty="no runs",
    )
    return 0


def _run_json(run: Run) -> dict[str, Any]:
    return {
        "info": asdict(run.info),
        "data": asdict(run.data),
        "inputs": [asdict(i) for i in run.inputs],
    }


def _describe(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        run = client.get_run(args.run_id)
    if args.json:
        emit_json(_run_json(run))
        return 0
    info = run.info
    table(
        ["FIELD", "VALUE"],
        [
            ("run_id", info.run_id),
            ("name", info.run_name),
            ("experiment_id", info.experiment_id),
            ("status", info.status),
            ("lifecycle_stage", info.lifecycle_stage),
            ("user", info.user_id),
            ("started", when(info.start_time)),
            ("ended", when(info.end_time)),
            ("parent_run_id", info.parent_run_id),
            ("artifact_uri", info.artifact_uri),
        ],
    )
    for title, items in (
        ("PARAM", run.data.params),
        ("METRIC (latest)", run.data.metrics),
        ("TAG", run.data.tags),
    ):
        if items:
            print()
            table([title, "VALUE"], sorted(items.items()))
    for item in run.inputs:
        print()
        print(f"input dataset {item.dataset.name!r} digest {item.dataset.digest}")
    return 0


def comparison(a: Run, b: Run, *, system_tags: bool) -> list[tuple[str, Any, Any, bool]]:
    """Rows (field, value in A, value in B, differs) over info, params, metrics, tags."""
    rows: list[tuple[str, Any, Any, bool]] = []
    for name in ("run_name", "experiment_id", "status", "user_id"):
        va, vb = getattr(a.info, name), getattr(b.info, name)
        rows.append((name, va, vb, va != vb))
    for entity, da, db in (
        ("params", a.data.params, b.data.params),
        ("metrics", a.data.metrics, b.data.metrics),
        ("tags", a.data.tags, b.data.tags),
    ):
        for key in sorted(set(da) | set(db)):
            if entity == "tags" and key.startswith("mlflow.") and not system_tags:
                continue
            va, vb = da.get(key), db.get(key)
            rows.append((f"{entity}.{key}", va, vb, va != vb))
    return rows


def _compare(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        a, b = client.get_run(args.run_a), client.get_run(args.run_b)
    rows = comparison(a, b, system_tags=args.all)
    if args.json:
        emit_json(
            {
                "run_a": a.info.run_id,
                "run_b": b.info.run_id,
                "rows": [{"field": f, "a": va, "b": vb, "differs": d} for f, va, vb, d in rows],
            }
        )
        return 0
    table(
        ["", "FIELD", f"A {a.info.run_id[:8]}", f"B {b.info.run_id[:8]}"],
        [("*" if d else "", f, va, vb) for f, va, vb, d in rows],
    )
    changed = sum(1 for *_, d in rows if d)
    print(f"\n{changed} of {len(rows)} fields differ (marked *)")
    return 0
