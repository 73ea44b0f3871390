"""The security flags of `trackway models serve`: `--auth`, `--token-file`, `--tls-*`.

The command itself lives in `trackway.commands.models`; these flags are added to its
parser from here, and its handler runs with them in force (`server.cli_security`), so
the scoring server's security stays in one package.
"""

from __future__ import annotations

import argparse
from typing import Any

_FLAGS = ("auth", "token_file", "tls_cert", "tls_key")


def _subparser(sub: Any, *path: str) -> argparse.ArgumentParser | None:
    parser: argparse.ArgumentParser | None = sub.choices.get(path[0])
    for name in path[1:]:
        if parser is None:
            return None
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = actions[0].choices.get(name) if actions else None
    return parser


def extend(sub: Any) -> None:
    """Adds the flags to `models serve` among the CLI's subcommands `sub`."""
    parser = _subparser(sub, "models", "serve")
    if parser is None:
        return
    parser.add_argument(
        "--auth",
        choices=("none", "token"),
        default="none",
        help="token: /invocations needs `Authorization: Bearer <token>` with a token of "
        "--token-file (default none)",
    )
    parser.add_argument(
        "--token-file",
        default="",
        help="accepted tokens, one per line: the secret, or sha256:<hex> of it; re-read "
        "when it changes",
    )
    parser.add_argument("--tls-cert", default="", help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", default="", help="PEM private key of --tls-cert")
    handler = parser.get_default("handler")

    def secured(args: argparse.Namespace) -> int:
        from trackway.serving import server  # uvicorn: only when serving

        settings = {name: getattr(args, name) for name in _FLAGS}
        with server.cli_security(settings):
            result: int = handler(args)
            return result

    parser.set_defaults(handler=secured)
