"""`trackway users|tokens|permissions`: who may call the server, and what they may do.

The commands talk to the server's AdminService (authenticated with TRACKWAY_TOKEN, or
a client certificate: see `trackway.client.channel`). `users` and `tokens` also work
on the database directly with `--backend-store-uri`, without a server or a token:
that is how a fresh install gets its first admin and its first token.

    trackway users create alice --admin --backend-store-uri sqlite:///trackway.db
    export TRACKWAY_TOKEN=$(trackway tokens create --user alice --backend-store-uri ...)
    trackway users create bob
    trackway permissions grant --experiment churn --user bob --permission EDIT
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from trackway.commands import permissions, tokens, users

_GROUPS = {"users": users, "tokens": tokens, "permissions": permissions}


def _dispatch(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    for module in _GROUPS.values():
        module.register(sub)
    return dict.fromkeys(_GROUPS, _dispatch)
