"""`trackway run URI -e ENTRY -P key=value`: an MLflow-style project as a tracked run.

The command's output streams through as it comes; trackway's own lines go to stderr
(with `--json`, the command's stdout does too, so stdout holds only the JSON summary).
The exit code is 0 when the run ends FINISHED, the command's own code when it fails,
and 128 + the signal when the run was stopped (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from trackway.commands.common import command, emit_json, fail

ENV_MANAGERS = ("local", "virtualenv", "conda")


def register(sub: Any) -> None:
    p = command(sub, "run", "run a project (MLproject) as a tracked run", _run)
    p.add_argument(
        "uri",
        help="project directory or git URI (https://, ssh://, file://, git@host:repo), "
        "optionally with #sub/dir",
    )
    p.add_argument("-e", "--entry-point", default="main", help="entry point, or a .py/.sh file")
    p.add_argument(
        "-P",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter (repeatable); undeclared ones are passed as --KEY VALUE",
    )
    p.add_argument(
        "--env-manager",
        choices=ENV_MANAGERS,
        default=None,
        help="where the command runs (default: the project's python_env → virtualenv, "
        "conda_env → conda, docker_env → docker, else local)",
    )
    p.add_argument("--experiment-name", default=None, help="created when missing")
    p.add_argument("--experiment-id", default=None)
    p.add_argument("--version", default=None, help="git commit, branch or tag to check out")
    p.add_argument("--run-name", default=None)


def dispatch(args: argparse.Namespace) -> int:
    handler = args.handler
    return int(handler(args))


def parse_params(items: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"-P {item!r}: expected KEY=VALUE")
        if key in found:
            raise ValueError(f"-P {key} is given twice")
        found[key] = value
    return found


def _say(text: str) -> None:
    print(f"trackway: {text}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    from trackway.projects import runner
    from trackway.projects.submitted import Interrupted, stop_signals_raise

    prepared = runner.prepare(
        args.uri,
        args.entry_point,
        parse_params(args.params),
        version=args.version,
        env_manager=args.env_manager,
        progress=_say,
    )
    sys.stdout.flush()  # our buffered output first, then the command's
    stopped_by = 0
    submitted = None
    # From before the command starts: a stop signal at any moment stops it and its group.
    try:
        with stop_signals_raise():
            submitted = runner.start(
                prepared,
                tracking_uri=args.tracking_uri,
                experiment_name=args.experiment_name,
                experiment_id=args.experiment_id,
                run_name=args.run_name,
                stdout=sys.stderr.fileno() if args.json else None,
            )
            _say(
                f"run {submitted.run_id} (experiment {submitted.experiment_id}, env "
                f"{prepared.environment.manager}) in {prepared.source.directory}: "
                f"{submitted.command}"
            )
            submitted.wait()
    except KeyboardInterrupt as exc:
        if submitted is None:
            raise  # start() stopped the command and ended the run itself
        submitted.cancel()  # returns at once when wait() already stopped it
        stopped_by = exc.signum if isinstance(exc, Interrupted) else 2
    status = submitted.get_status()
    if args.json:
        emit_json(
            {
                "run_id": submitted.run_id,
                "experiment_id": submitted.experiment_id,
                "status": status,
                "exit_code": submitted.exit_code,
                "command": submitted.command,
            }
        )
    if status == "FINISHED":
        _say(f"run {submitted.run_id} FINISHED")
        return 0
    fail(runner.failure(submitted))
    if stopped_by:
        return 128 + stopped_by
    code = submitted.exit_code or 1
    return code if 0 < code < 256 else 1
