"""`trackway models register|list|alias|stage|serve`."""

from __future__ import annotations

import argparse
import contextlib
import sys
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
    from trackway.client.registry import ModelVersion

STAGES = ("None", "Staging", "Production", "Archived")


def register(sub: Any) -> None:
    cmds = group(sub, "models", "register models and manage their versions")
    p = command(cmds, "register", "register a new version of a model", _register)
    p.add_argument("source", help="runs:/<run_id>/<path>, models:/..., or an artifact URI")
    p.add_argument("--name", required=True, help="the registered model (created if new)")
    p.add_argument("--run-id", default="", help="the run that produced it")
    p.add_argument("--description", default="")
    tags_arg(p)
    p = command(cmds, "list", "list registered models, or one model's versions", _list)
    p.add_argument("name", nargs="?", help="list this model's versions")
    p.add_argument("--filter", default="")
    p.add_argument("--max-results", type=int, default=1000)
    p = command(cmds, "alias", "point an alias at a version, or delete it", _alias)
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", nargs="?", type=int, help="omit with --delete")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p = command(cmds, "stage", "move a version to a stage", _stage)
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("stage", type=str.capitalize, choices=STAGES)
    p.add_argument(
        "--archive-existing",
        action="store_true",
        help="archive the versions already in the stage (Staging or Production)",
    )
    p = command(cmds, "serve", "serve a model over HTTP (MLflow's scoring protocol)", _serve)
    p.add_argument(
        "-m",
        "--model-uri",
        required=True,
        help="models:/<name>@<alias>, models:/<name>/<version>, runs:/<run_id>/<path> or a "
        "local folder; loading it unpickles it: serve only models you trust",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("-p", "--port", type=int, default=5001, help="0 picks a free one")
    p.add_argument("--threads", type=int, default=4, help="predictions at once (default 4)")
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds a prediction may take before the client gets a 503 (default 60)",
    )


def version_json(mv: ModelVersion) -> dict[str, Any]:
    from trackway.client.registry import stage_name

    return {
        "name": mv.name,
        "version": mv.version,
        "stage": stage_name(mv.current_stage),
        "source": mv.source,
        "run_id": mv.run_id,
        "aliases": list(mv.aliases),
        "tags": {t.key: t.value for t in mv.tags},
        "description": mv.description,
        "created": mv.creation_timestamp,
    }


def _register(args: argparse.Namespace) -> int:
    from trackway.errors import AlreadyExists

    with client_for(args) as client:
        with contextlib.suppress(AlreadyExists):
            client.create_registered_model(args.name)
        mv = client.create_model_version(
            args.name,
            args.source,
            run_id=args.run_id,
            tags=parse_tags(args.tags),
            description=args.description,
        )
    if args.json:
        emit_json(version_json(mv))
    else:
        print(f"registered {args.source} as version {mv.version} of model {args.name!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        if args.name:
            return _versions(client, args)
        models: list[Any] = []
        token = ""
        while len(models) < args.max_results:
            page = client.search_registered_models(
                args.filter, max_results=min(args.max_results - len(models), 1000), page_token=token
            )
            models.extend(page)
            token = page.token
            if not token:
                break
    if args.json:
        emit_json(
            [
                {
                    "name": m.name,
                    "description": m.description,
                    "aliases": {a.alias: a.version for a in m.aliases},
                    "latest_versions": [version_json(v) for v in m.latest_versions],
                    "updated": m.last_updated_timestamp,
                }
                for m in models
            ]
        )
        return 0
    table(
        ["NAME", "LATEST", "ALIASES", "UPDATED"],
        [
            (
                m.name,
                max((v.version for v in m.latest_versions), default=None),
                ", ".join(f"{a.alias}=v{a.version}" for a in m.aliases),
                when(m.last_updated_timestamp),
            )
            for m in models
        ],
        empty="no registered models",
    )
    return 0


def _versions(client: Any, args: argparse.Namespace) -> int:
    from trackway.client.registry import stage_name

    quoted = args.name.replace("'", "''")
    page = client.search_model_versions(
        f"name = '{quoted}'" + (f" AND ({args.filter})" if args.filter else ""),
        max_results=args.max_results,
    )
    if args.json:
        emit_json([version_json(v) for v in page])
        return 0
    table(
        ["VERSION", "STAGE", "ALIASES", "RUN ID", "CREATED", "SOURCE"],
        [
            (
                v.version,
                stage_name(v.current_stage),
                ", ".join(v.aliases),
                v.run_id,
                when(v.creation_timestamp),
                v.source,
            )
            for v in page
        ],
        empty=f"model {args.name!r} has no versions",
    )
    return 0


def _alias(args: argparse.Namespace) -> int:
    if args.delete == (args.version is not None):
        raise ValueError("give a VERSION to set the alias, or --delete to remove it")
    with client_for(args) as client:
        if args.delete:
            client.delete_registered_model_alias(args.name, args.alias)
            result: dict[str, Any] = {"name": args.name, "alias": args.alias, "deleted": True}
            text = f"deleted alias {args.alias!r} of model {args.name!r}"
        else:
            reply = client.set_registered_model_alias(args.name, args.alias, args.version)
            result = {
                "name": args.name,
                "alias": args.alias,
                "version": args.version,
                "previous_version": reply.previous_version or None,
            }
            was = f" (was version {reply.previous_version})" if reply.previous_version else ""
            text = f"{args.name}@{args.alias} -> version {args.version}{was}"
    if args.json:
        emit_json(result)
    else:
        print(text)
    return 0


def _stage(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        mv = client.transition_model_version_stage(
            args.name, args.version, args.stage, args.archive_existing
        )
    if args.json:
        emit_json(version_json(mv))
    else:
        print(f"model {args.name!r} version {mv.version} is now in stage {args.stage}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from trackway.serving.server import ServeOptions, serve

    if args.threads < 1 or args.timeout <= 0:
        raise ValueError("--threads must be at least 1 and --timeout positive")
    options = ServeOptions(
        model_uri=args.model_uri,
        host=args.host,
        port=args.port,
        tracking_uri=args.tracking_uri,
        threads=args.threads,
        timeout=args.timeout,
    )
    print(
        f"trackway: loading model {args.model_uri} (this unpickles it: serve only models "
        "you trust)",
        file=sys.stderr,
        flush=True,
    )

    def ready(server: Any) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{host}:{server.port}"
        if args.json:
            emit_json({"url": url, "port": server.port, "model_uri": args.model_uri})
            sys.stdout.flush()
        print(
            f"trackway: serving {args.model_uri} on {url} (POST /invocations; GET /ping, "
            "/health, /version); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    return serve(options, ready)
