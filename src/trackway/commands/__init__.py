"""The client commands of the `trackway` CLI: experiments, runs, artifacts, models, gc.

`register(sub)` adds them to the CLI's subparsers and returns their dispatcher by name.
Each leaf command stores its (guarded) handler as `args.handler`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from trackway.commands import artifacts, experiments, gc, models, runs

_GROUPS = {
    "experiments": experiments,
    "runs": runs,
    "artifacts": artifacts,
    "models": models,
    "gc": gc,
}


def _dispatch(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    for module in _GROUPS.values():
        module.register(sub)
    return dict.fromkeys(_GROUPS, _dispatch)
