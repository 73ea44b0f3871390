"""`trackway artifacts log|list|download` (progress bars on a terminal)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trackway.commands.common import client_for, command, emit_json, group, table


def register(sub: Any) -> None:
    cmds = group(sub, "artifacts", "upload, list and download a run's artifacts")
    p = command(cmds, "log", "upload a file or a folder to a run", _log)
    p.add_argument("local_path")
    p.add_argument("--run-id", required=True)
    p.add_argument("--artifact-path", default="", help="folder below the run's root")
    p = command(cmds, "list", "list a run's artifacts", _list)
    p.add_argument("path", nargs="?", default="", help="folder below the run's root")
    p.add_argument("--run-id", required=True)
    p.add_argument("-r", "--recursive", action="store_true", help="list sub-folders too")
    p = command(cmds, "download", "download a file or a folder of a run", _download)
    p.add_argument("path", nargs="?", default="", help="file or folder; default: everything")
    p.add_argument("--run-id", required=True)
    p.add_argument("--dst", default=".", help="local destination (default: .)")


def _log(args: argparse.Namespace) -> int:
    source = Path(args.local_path)
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    with client_for(args) as client:
        if source.is_dir():
            files = client.log_artifacts(args.run_id, source, args.artifact_path or None)
        else:
            files = [client.log_artifact(args.run_id, source, args.artifact_path or None)]
    if args.json:
        emit_json([{"path": f.path, "size": f.size} for f in files])
    else:
        total = sum(f.size for f in files)
        print(f"uploaded {len(files)} files ({total} bytes) to run {args.run_id}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found = []
        folders = [args.path]
        while folders:
            for item in client.list_artifacts(args.run_id, folders.pop(0)):
                found.append(item)
                if item.is_dir and args.recursive:
                    folders.append(item.path)
    if args.json:
        emit_json([{"path": f.path, "is_dir": f.is_dir, "size": f.size} for f in found])
        return 0
    table(
        ["PATH", "SIZE"],
        [(f.path + ("/" if f.is_dir else ""), "-" if f.is_dir else f.size) for f in found],
        empty="no artifacts",
    )
    return 0


def _download(args: argparse.Namespace) -> int:
    dst = Path(args.dst)
    with client_for(args) as client:
        target = dst / Path(args.path).name if args.path else dst
        where = client.download_artifacts(args.run_id, args.path, target)
    if args.json:
        emit_json({"path": args.path, "local_path": str(where)})
    else:
        print(f"downloaded {args.path or 'all artifacts'} to {where}")
    return 0
