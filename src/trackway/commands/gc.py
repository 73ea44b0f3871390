"""`trackway gc`: purge deleted experiments older than a cut-off, with their artifacts.

For each experiment deleted longer ago than --older-than: delete its artifact folder
(every entry below the experiment's root) through ArtifactService.DeleteArtifact, then
PurgeExperiment, which removes its runs and their data and frees its name.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
from typing import TYPE_CHECKING, Any

from trackway.commands.common import client_for, command, emit_json, table, when

if TYPE_CHECKING:
    from trackway.client import Experiment, TrackwayClient

_SPAN = re.compile(r"(\d+)([dhms])")
_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def register(sub: Any) -> None:
    p = command(sub, "gc", "purge deleted experiments and their artifacts for good", _gc)
    p.add_argument(
        "--older-than",
        default="0s",
        help="only experiments deleted at least this long ago, e.g. 30d, 12h, 1d2h30m",
    )
    p.add_argument(
        "--experiment-ids",
        default="",
        help="comma-separated ids to consider (default: every deleted experiment)",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be purged")


def parse_span(text: str) -> int:
    """'1d2h30m' -> seconds."""
    compact = text.replace(" ", "")
    parts = _SPAN.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"--older-than {text!r}: expected a span like 30d, 12h or 1d2h30m")
    return sum(int(n) * _SECONDS[u] for n, u in parts)


def _candidates(client: TrackwayClient, args: argparse.Namespace) -> list[Experiment]:
    cutoff = int(time.time() * 1000) - parse_span(args.older_than) * 1000
    wanted = {i.strip() for i in args.experiment_ids.split(",") if i.strip()}
    found: list[Experiment] = []
    token = ""
    while True:
        page = client.search_experiments(view_type="deleted", page_token=token)
        found.extend(e for e in page if not wanted or e.experiment_id in wanted)
        token = page.token
        if not token:
            break
    missing = wanted - {e.experiment_id for e in found}
    if missing:
        raise ValueError(f"not deleted or not found: experiments {', '.join(sorted(missing))}")
    # last_update_time is when the experiment was deleted (or last changed before that).
    return [e for e in found if e.last_update_time <= cutoff]


def delete_artifacts(client: TrackwayClient, experiment_id: str) -> int:
    """Deletes everything below an experiment's artifact root; returns the file count."""
    from trackway.errors import NotFound

    deleted = 0
    for item in client.list_artifacts(experiment_id=experiment_id):
        with contextlib.suppress(NotFound):  # gone meanwhile
            deleted += client.delete_artifact(path=item.path, experiment_id=experiment_id)
    return deleted


def _purge_one(client: TrackwayClient, exp: Experiment) -> tuple[int, int]:
    files = delete_artifacts(client, exp.experiment_id)
    runs = client.purge_experiment(exp.experiment_id)
    return files, runs


def _gc(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    with client_for(args) as client:
        for exp in _candidates(client, args):
            row: dict[str, Any] = {
                "experiment_id": exp.experiment_id,
                "name": exp.name,
                "deleted": exp.last_update_time,
            }
            if not args.dry_run:
                row["deleted_files"], row["purged_runs"] = _purge_one(client, exp)
            rows.append(row)
    if args.json:
        emit_json({"dry_run": args.dry_run, "experiments": rows})
        return 0
    verb = "would purge" if args.dry_run else "purged"
    table(
        ["ID", "NAME", "DELETED", *(() if args.dry_run else ("FILES", "RUNS"))],
        [
            (
                r["experiment_id"],
                r["name"],
                when(r["deleted"]),
                *(() if args.dry_run else (r["deleted_files"], r["purged_runs"])),
            )
            for r in rows
        ],
    )
    print(f"{verb} {len(rows)} experiments")
    return 0
