"""`trackway gc`, and the CLI's no-traceback contract."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.support.procs import free_port
from trackway.client import TrackwayClient
from trackway.commands.gc import parse_span
from trackway.errors import NotFound


def _experiment_with_artifacts(api: TrackwayClient, name: str, tmp_path: Path) -> str:
    eid = api.create_experiment(name)
    for i in range(2):
        rid = api.create_run(eid).info.run_id
        f = tmp_path / f"{name}-{i}.txt"
        f.write_text("data")
        api.log_artifact(rid, f)
    return eid


def test_gc_purges_deleted_experiments_with_their_artifacts(
    run_cli: Cli, api: TrackwayClient, tmp_path: Path
) -> None:
    old = _experiment_with_artifacts(api, "old", tmp_path)
    kept = _experiment_with_artifacts(api, "kept", tmp_path)
    api.delete_experiment(old)
    root = Path(api.get_experiment(old).artifact_location.removeprefix("file://"))
    assert len(list(root.rglob("*.txt"))) == 2

    young = run_cli("gc", "--older-than", "1h", "--json").json()
    assert young["experiments"] == []  # deleted a moment ago

    dry = run_cli("gc", "--dry-run")
    assert dry.code == 0 and "would purge 1 experiments" in dry.out
    assert api.get_experiment(old).lifecycle_stage == "deleted"

    done = run_cli("gc", "--older-than", "0s", "--json")
    assert done.code == 0, done.err
    (row,) = done.json()["experiments"]
    assert (row["experiment_id"], row["deleted_files"], row["purged_runs"]) == (old, 2, 2)
    with pytest.raises(NotFound):
        api.get_experiment(old)
    assert not list(root.rglob("*.txt"))
    assert api.create_experiment("old")  # the name is free again
    assert api.get_experiment(kept).lifecycle_stage == "active"


def test_gc_takes_experiment_ids(run_cli: Cli, api: TrackwayClient, tmp_path: Path) -> None:
    a = _experiment_with_artifacts(api, "a", tmp_path)
    b = _experiment_with_artifacts(api, "b", tmp_path)
    api.delete_experiment(a)
    api.delete_experiment(b)
    done = run_cli("gc", "--experiment-ids", a)
    assert done.code == 0 and "purged 1 experiments" in done.out
    assert api.get_experiment(b).lifecycle_stage == "deleted"
    active = api.create_experiment("active")
    refused = run_cli("gc", "--experiment-ids", active)
    assert refused.code == 1 and "not deleted" in refused.err


def test_parse_span() -> None:
    assert parse_span("1d2h30m5s") == 86_400 + 7_200 + 1_800 + 5
    assert parse_span("30d") == 30 * 86_400
    for bad in ("", "10", "1w", "d1"):
        with pytest.raises(ValueError):
            parse_span(bad)


def test_unreachable_server_and_http_uri_are_one_line(run_cli: Cli) -> None:
    dead = run_cli("runs", "list", "--tracking-uri", f"grpc://127.0.0.1:{free_port()}",
                   with_uri=False)  # fmt: skip
    assert dead.code == 1
    assert dead.err.startswith("trackway: error: cannot reach the tracking server")
    assert dead.err.count("\n") == 1
    port = free_port()
    http = run_cli("experiments", "list", "--tracking-uri", f"http://127.0.0.1:{port}",
                   with_uri=False)  # fmt: skip
    assert http.code == 1
    assert http.err.startswith(
        f"trackway: error: cannot reach the tracking server at http://127.0.0.1:{port}: "
    )
    assert http.err.count("\n") == 1


def test_tracking_uri_defaults_to_the_environment(
    uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackway import cli

    monkeypatch.setenv("TRACKWAY_TRACKING_URI", uri)
    assert cli.main(["experiments", "create", "from-env"]) == 0
    assert "from-env" in capsys.readouterr().out


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: failure is one line and exit 1."""
    env = {**os.environ, "TRACKWAY_TRACKING_URI": f"grpc://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    for args in (
        ["runs", "describe", "0" * 32],
        ["artifacts", "download", "--run-id", "0" * 32],
        ["gc", "--older-than", "nonsense"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "trackway.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith("trackway: error: ") and done.stderr.count("\n") == 1
        assert done.stdout == ""
    assert time.monotonic() - started < 45
