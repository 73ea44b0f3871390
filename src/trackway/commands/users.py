"""`trackway users create|list|delete|set-role|whoami`."""

from __future__ import annotations

import argparse
from typing import Any

from trackway.commands.admin_backend import admin_for, direct_flag
from trackway.commands.common import command, emit_json, group, table, when


def register(sub: Any) -> None:
    cmds = group(sub, "users", "create, list and delete users (admins only)")
    p = command(cmds, "create", "create a user", _create)
    p.add_argument("name", help="1-64 letters, digits, '_', '-', '.', '@'")
    p.add_argument("--admin", action="store_true", help="make the user an admin")
    direct_flag(p)
    p = command(cmds, "list", "list users", _list)
    direct_flag(p)
    p = command(cmds, "delete", "delete a user with their tokens and permissions", _delete)
    p.add_argument("name")
    direct_flag(p)
    p = command(cmds, "set-role", "make a user an admin, or a regular user", _set_role)
    p.add_argument("name")
    p.add_argument("role", choices=("admin", "user"))
    direct_flag(p)
    command(cmds, "whoami", "show the user the server knows you as", _whoami)


def _show(args: argparse.Namespace, users: list[Any]) -> None:
    if args.json:
        emit_json(
            [{"name": u.name, "role": u.role, "creation_time": u.creation_time} for u in users]
        )
    else:
        table(
            ["NAME", "ROLE", "CREATED"],
            [[u.name, u.role, when(u.creation_time)] for u in users],
            empty="no users",
        )


def _create(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        user = admin.create_user(args.name, admin=args.admin)
    if args.json:
        _show(args, [user])
    else:
        print(f"created {user.role} {user.name!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        _show(args, admin.list_users())
    return 0


def _delete(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        admin.delete_user(args.name)
    if not args.json:
        print(f"deleted user {args.name!r} with their tokens and permissions")
    return 0


def _set_role(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        user = admin.set_role(args.name, admin=args.role == "admin")
    if args.json:
        _show(args, [user])
    else:
        print(f"{user.name!r} is now a{'n' if user.role == 'admin' else ''} {user.role}")
    return 0


def _whoami(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        _show(args, [admin.current_user()])
    return 0
