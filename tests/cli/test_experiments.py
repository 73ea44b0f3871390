"""`trackway experiments ...`."""

from __future__ import annotations

from tests.cli.conftest import Cli
from trackway.client import TrackwayClient


def test_create_list_rename_delete_restore_purge(run_cli: Cli, api: TrackwayClient) -> None:
    made = run_cli("experiments", "create", "vision", "--tag", "team=cv", "--json")
    assert made.code == 0, made.err
    eid = made.json()["experiment_id"]
    assert api.get_experiment(eid).tags == {"team": "cv"}
    human = run_cli("experiments", "create", "audio")
    assert human.code == 0 and "created experiment 'audio' with id" in human.out

    listed = run_cli("experiments", "list")
    assert listed.code == 0
    assert listed.out.splitlines()[0].split()[:3] == ["ID", "NAME", "STAGE"]
    assert "vision" in listed.out and "audio" in listed.out
    only = run_cli("experiments", "list", "--filter", "name = 'vision'", "--json").json()
    assert [e["name"] for e in only] == ["vision"]

    assert run_cli("experiments", "rename", "vision", "sight").code == 0  # by name
    assert api.get_experiment(eid).name == "sight"
    assert run_cli("experiments", "rename", eid, "vision").code == 0  # by id

    deleted = run_cli("experiments", "delete", "vision")
    assert deleted.code == 0 and "restore it with" in deleted.out
    assert run_cli("experiments", "list", "--view", "deleted", "--json").json()[0]["name"] == (
        "vision"
    )
    assert run_cli("experiments", "restore", eid).code == 0
    assert api.get_experiment(eid).lifecycle_stage == "active"
    refused = run_cli("experiments", "purge", eid)
    assert refused.code == 1
    assert refused.err.startswith("trackway: error: ") and refused.err.count("\n") == 1
    run_cli("experiments", "delete", eid)
    purged = run_cli("experiments", "purge", eid, "--json")
    assert purged.code == 0 and purged.json() == {"experiment_id": eid, "purged_runs": 0}


def test_errors_are_one_line(run_cli: Cli) -> None:
    run_cli("experiments", "create", "dup")
    again = run_cli("experiments", "create", "dup")
    assert again.code == 1
    assert again.err.startswith("trackway: error: ") and again.err.count("\n") == 1
    assert again.out == ""
    missing = run_cli("experiments", "rename", "no-such-experiment", "x")
    assert missing.code == 1 and "no-such-experiment" in missing.err
    usage = run_cli("experiments", "create")
    assert usage.code == 2
    assert usage.err.startswith("trackway: error: ") and usage.err.count("\n") == 1
    bad_tag = run_cli("experiments", "create", "x", "--tag", "novalue")
    assert bad_tag.code == 1 and "KEY=VALUE" in bad_tag.err
