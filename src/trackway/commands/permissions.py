"""`trackway permissions grant|revoke|list`: READ, EDIT or MANAGE on an experiment or
a registered model. Needs MANAGE on it (its creator has MANAGE), or the admin role."""

from __future__ import annotations

import argparse
from typing import Any

from trackway.commands.admin_backend import admin_for
from trackway.commands.common import command, emit_json, group, table

LEVELS = ("READ", "EDIT", "MANAGE")


def _target(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--experiment", help="an experiment's id or name")
    which.add_argument("--model", help="a registered model's name")


def register(sub: Any) -> None:
    cmds = group(sub, "permissions", "grant, revoke and list permissions")
    p = command(cmds, "grant", "grant a user a permission (replacing theirs)", _grant)
    _target(p)
    p.add_argument("--user", required=True)
    p.add_argument("--permission", required=True, type=str.upper, choices=LEVELS)
    p = command(cmds, "revoke", "take a user's permission away", _revoke)
    _target(p)
    p.add_argument("--user", required=True)
    p = command(cmds, "list", "list who has which permission", _list)
    _target(p)


def _grant(args: argparse.Namespace) -> int:
    from trackway.auth.entities import Permission

    level = Permission.parse(args.permission)
    with admin_for(args) as admin:
        if args.experiment:
            grant = admin.grant_experiment_permission(
                admin.experiment_id(args.experiment), args.user, level
            )
            shown = f"experiment {grant.resource}"
        else:
            grant = admin.grant_model_permission(args.model, args.user, level)
            shown = f"model {grant.resource!r}"
    if args.json:
        emit_json({"resource": grant.resource, "user": grant.user_name, "permission": level.name})
    else:
        print(f"{grant.user_name!r} has {level.name} on {shown}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        if args.experiment:
            eid = admin.experiment_id(args.experiment)
            admin.revoke_experiment_permission(eid, args.user)
            shown = f"experiment {eid}"
        else:
            admin.revoke_model_permission(args.model, args.user)
            shown = f"model {args.model!r}"
    if not args.json:
        print(f"{args.user!r} has no permission on {shown} any more")
    return 0


def _list(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        if args.experiment:
            found = admin.list_experiment_permissions(admin.experiment_id(args.experiment))
        else:
            found = admin.list_model_permissions(args.model)
    if args.json:
        emit_json([{"user": g.user_name, "permission": g.permission.name} for g in found])
    else:
        table(
            ["USER", "PERMISSION"],
            [[g.user_name, g.permission.name] for g in found],
            empty="no permissions granted (admins have every permission)",
        )
    return 0
