"""What every client command shares: its flags, its client, its output, its errors.

Human tables by default, `--json` for scripts. A failure prints one line
`trackway: error: ...` on stderr and exits non-zero, never a traceback. Nothing here
imports the client at registration time: `trackway server` does not load it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from trackway.client import TrackwayClient

DEFAULT_URI = "grpc://127.0.0.1:50051"
URI_ENV = "TRACKWAY_TRACKING_URI"
CLI_RETRY_SECONDS = 2.0

Handler = Callable[[argparse.Namespace], int]


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Usage errors as one line too, naming the command's --help."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"trackway: error: {message} (see `{parser.prog} --help`)\n")

    setattr(parser, "error", error)  # noqa: B010  (an instance override of a method)
    return parser


def group(sub: Any, name: str, help_text: str) -> Any:
    """A command with subcommands, e.g. `experiments` with `create`, `list`, ..."""
    parser = one_line_errors(sub.add_parser(name, help=help_text, description=help_text))
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def command(sub: Any, name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
    """A leaf command with --tracking-uri and --json, dispatching to `handler`."""
    parser = one_line_errors(sub.add_parser(name, help=help_text, description=help_text))
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get(URI_ENV) or DEFAULT_URI,
        help=f"the server's gRPC address (env {URI_ENV}; default {DEFAULT_URI})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=guarded(handler))
    return parser


def guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:  # `trackway runs list | head`
            return 0
        except Exception as exc:
            fail(exc)
            return 1

    return run


def fail(exc: BaseException | str) -> None:
    text = " ".join(str(exc).split()) or type(exc).__name__
    print(f"trackway: error: {text}", file=sys.stderr)


@contextmanager
def client_for(args: argparse.Namespace) -> Iterator[TrackwayClient]:
    from trackway.client import TrackwayClient

    client = TrackwayClient(args.tracking_uri, retry_seconds=CLI_RETRY_SECONDS)
    try:
        yield client
    finally:
        client.close()


def tags_arg(parser: argparse.ArgumentParser, help_text: str = "a tag KEY=VALUE") -> None:
    parser.add_argument(
        "--tag", dest="tags", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def parse_tags(items: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--tag {item!r}: expected KEY=VALUE")
        found[key] = value
    return found


# Output


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "") -> None:
    """A plain table: columns padded to their widest cell."""
    if not rows:
        if empty:
            print(empty)
        return
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return " ".join(str(value).split())


def when(ms: int | None) -> str:
    """Epoch milliseconds as UTC time, '-' when unset."""
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))
