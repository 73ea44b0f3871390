"""`trackway experiments create|list|rename|delete|restore|purge`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from trackway.commands.common import (
    client_for,
    command,
    emit_json,
    group,
    parse_tags,
    table,
    tags_arg,
    when,
)

if TYPE_CHECKING:
    from trackway.client import TrackwayClient


def register(sub: Any) -> None:
    cmds = group(sub, "experiments", "create, list and delete experiments")
    p = command(cmds, "create", "create an experiment", _create)
    p.add_argument("name")
    p.add_argument("--artifact-location", default="", help="default: below the server's root")
    tags_arg(p)
    p = command(cmds, "list", "list experiments", _list)
    p.add_argument("--view", choices=("active", "deleted", "all"), default="active")
    p.add_argument("--filter", default="", help="e.g. \"name LIKE 'bert%%'\"")
    p.add_argument("--max-results", type=int, default=1000)
    p = command(cmds, "rename", "rename an experiment", _rename)
    p.add_argument("experiment", help="id or name")
    p.add_argument("new_name")
    for name, handler, text in (
        ("delete", _delete, "soft-delete an experiment and its runs (restorable)"),
        ("restore", _restore, "restore a deleted experiment and its runs"),
        ("purge", _purge, "remove a deleted experiment and its runs for good"),
    ):
        p = command(cmds, name, text, handler)
        p.add_argument("experiment", help="id or name")


def resolve(client: TrackwayClient, ref: str) -> str:
    """An experiment id from an id or a name."""
    return ref if ref.isdigit() else client.get_experiment_by_name(ref).experiment_id


def _create(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        eid = client.create_experiment(args.name, args.artifact_location, parse_tags(args.tags))
    if args.json:
        emit_json({"experiment_id": eid, "name": args.name})
    else:
        print(f"created experiment {args.name!r} with id {eid}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found: list[Any] = []
        token = ""
        while len(found) < args.max_results:
            page = client.search_experiments(
                args.filter,
                view_type=args.view,
                max_results=min(args.max_results - len(found), 50_000),
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                break
    if args.json:
        emit_json([asdict(e) for e in found])
        return 0
    table(
        ["ID", "NAME", "STAGE", "CREATED", "ARTIFACT LOCATION"],
        [
            (e.experiment_id, e.name, e.lifecycle_stage, when(e.creation_time), e.artifact_location)
            for e in found
        ],
        empty="no experiments",
    )
    return 0


def _rename(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        exp = client.rename_experiment(resolve(client, args.experiment), args.new_name)
    if args.json:
        emit_json(asdict(exp))
    else:
        print(f"experiment {exp.experiment_id} is now named {exp.name!r}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        eid = resolve(client, args.experiment)
        client.delete_experiment(eid)
    _done(args, eid, "deleted", "restore it with `trackway experiments restore`")
    return 0


def _restore(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        eid = resolve(client, args.experiment)
        client.restore_experiment(eid)
    _done(args, eid, "restored")
    return 0


def _purge(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        eid = resolve(client, args.experiment)
        count = client.purge_experiment(eid)
    if args.json:
        emit_json({"experiment_id": eid, "purged_runs": count})
    else:
        print(f"purged experiment {eid} and {count} runs")
    return 0


def _done(args: argparse.Namespace, eid: str, what: str, hint: str = "") -> None:
    if args.json:
        emit_json({"experiment_id": eid, "result": what})
    else:
        print(f"{what} experiment {eid}" + (f"; {hint}" if hint else ""))
