"""`trackway tokens create|list|revoke`: API tokens, yours or (as an admin) anyone's.

`create` prints the secret alone on stdout, so that it can be captured:
`export TRACKWAY_TOKEN=$(trackway tokens create --description laptop)`. It is shown
this once; the server keeps only its hash.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trackway.commands.admin_backend import admin_for, direct_flag
from trackway.commands.common import command, emit_json, group, table, when

SECONDS_PER_DAY = 86_400


def register(sub: Any) -> None:
    cmds = group(sub, "tokens", "create, list and revoke API tokens")
    p = command(cmds, "create", "create a token and print its secret", _create)
    p.add_argument("--user", default="", help="whose token (admins only); default: yours")
    p.add_argument("--description", default="", help="what the token is for")
    p.add_argument(
        "--ttl-days", type=float, default=0, help="days until it expires; default: never"
    )
    direct_flag(p)
    p = command(cmds, "list", "list tokens (never their secrets)", _list)
    p.add_argument("--user", default="", help="whose tokens (admins only); default: yours")
    direct_flag(p)
    p = command(cmds, "revoke", "revoke a token for good", _revoke)
    p.add_argument("token_id", help="the token's id (tok_...), not its secret")
    direct_flag(p)


def _row(token: Any) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "user": token.user_name,
        "description": token.description,
        "creation_time": token.creation_time,
        "expire_time": token.expire_time,
        "revoked_time": token.revoked_time,
    }


def _create(args: argparse.Namespace) -> int:
    if args.ttl_days < 0:
        raise ValueError("--ttl-days must not be negative")
    with admin_for(args) as admin:
        token, secret = admin.create_token(
            args.user, args.description, round(args.ttl_days * SECONDS_PER_DAY)
        )
    if args.json:
        emit_json({**_row(token), "secret": secret})
        return 0
    print(secret)
    print(
        f"created token {token.token_id} for {token.user_name!r}; the secret above is shown "
        "only now",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        found = admin.list_tokens(args.user)
    if args.json:
        emit_json([_row(t) for t in found])
        return 0
    table(
        ["TOKEN ID", "USER", "CREATED", "EXPIRES", "REVOKED", "DESCRIPTION"],
        [
            [
                t.token_id,
                t.user_name,
                when(t.creation_time),
                when(t.expire_time),
                when(t.revoked_time),
                t.description,
            ]
            for t in found
        ],
        empty="no tokens",
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with admin_for(args) as admin:
        token = admin.revoke_token(args.token_id)
    if args.json:
        emit_json(_row(token))
    else:
        print(f"revoked token {token.token_id} of {token.user_name!r}")
    return 0
