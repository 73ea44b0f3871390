"""`trackway runs list|search|describe|compare`."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli
from trackway.client import Metric, TrackwayClient


@pytest.fixture
def two_runs(api: TrackwayClient) -> tuple[str, str, str]:
    eid = api.create_experiment("runs-cli")
    a = api.create_run(eid, "alpha").info.run_id
    b = api.create_run(eid, "beta").info.run_id
    api.log_batch(a, [Metric("loss", 0.5, 1, 1000)], {"lr": "0.1", "depth": "3"}, {"k": "x"})
    api.log_batch(b, [Metric("loss", 0.25, 1, 1000)], {"lr": "0.1", "depth": "4"}, {"k": "x"})
    api.set_terminated(a)
    return eid, a, b


def test_list_and_search(run_cli: Cli, two_runs: tuple[str, str, str]) -> None:
    eid, a, b = two_runs
    listed = run_cli("runs", "list", "-e", "runs-cli", "--columns", "metrics.loss,params.depth")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split() == [
        "RUN", "ID", "NAME", "EXPERIMENT", "STATUS", "STARTED", "metrics.loss", "params.depth"
    ]  # fmt: skip
    assert len(rows) == 2
    found = run_cli("runs", "search", "--filter", "metrics.loss < 0.3", "-e", eid, "--json")
    assert [r["info"]["run_id"] for r in found.json()] == [b]
    ordered = run_cli(
        "runs", "search", "--filter", "params.lr = '0.1'", "--order-by", "metrics.loss", "--json"
    ).json()
    assert [r["info"]["run_id"] for r in ordered] == [b, a]
    bad = run_cli("runs", "search", "--filter", "metrics.loss <<< 1")
    assert bad.code == 1 and bad.err.startswith("trackway: error: ") and "position" in bad.err
    assert run_cli("runs", "search").code == 2  # --filter is required


def test_describe(run_cli: Cli, two_runs: tuple[str, str, str]) -> None:
    _, a, _ = two_runs
    shown = run_cli("runs", "describe", a)
    assert shown.code == 0
    assert "FINISHED" in shown.out and "depth" in shown.out and "loss" in shown.out
    data = run_cli("runs", "describe", a, "--json").json()
    assert data["info"]["run_name"] == "alpha" and data["data"]["params"]["depth"] == "3"
    missing = run_cli("runs", "describe", "0" * 32)
    assert missing.code == 1 and "does not exist" in missing.err


def test_compare_marks_differences(run_cli: Cli, two_runs: tuple[str, str, str]) -> None:
    _, a, b = two_runs
    shown = run_cli("runs", "compare", a, b)
    assert shown.code == 0, shown.err
    lines = {line.split()[1] if line.startswith("*") else line.split()[0]: line
             for line in shown.out.splitlines() if line.strip()}  # fmt: skip
    assert lines["params.depth"].startswith("*")
    assert lines["metrics.loss"].startswith("*")
    assert not lines["params.lr"].startswith("*")
    assert not lines["tags.k"].startswith("*")
    assert "mlflow.runName" not in shown.out
    rows = run_cli("runs", "compare", a, b, "--json", "--all").json()["rows"]
    by_field = {r["field"]: r for r in rows}
    assert by_field["params.depth"] == {
        "field": "params.depth",
        "a": "3",
        "b": "4",
        "differs": True,
    }
    assert by_field["status"]["differs"] is True
    assert "tags.mlflow.runName" in by_field
