"""`trackway artifacts ...` and `trackway models ...`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from trackway.client import TrackwayClient


@pytest.fixture
def run_id(api: TrackwayClient) -> str:
    return api.create_run(api.create_experiment("cli-art")).info.run_id


def test_artifacts_log_list_download(run_cli: Cli, run_id: str, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"w" * 100)
    (folder / "sub" / "meta.json").write_text("{}")
    single = tmp_path / "notes.txt"
    single.write_text("n")

    dir_up = run_cli("artifacts", "log", str(folder), "--run-id", run_id, "--artifact-path", "m")
    assert dir_up.code == 0, dir_up.err
    assert "uploaded 2 files (102 bytes)" in dir_up.out
    file_up = run_cli("artifacts", "log", str(single), "--run-id", run_id, "--json")
    assert file_up.json() == [{"path": "notes.txt", "size": 1}]

    top = run_cli("artifacts", "list", "--run-id", run_id)
    assert top.code == 0 and "m/" in top.out and "notes.txt" in top.out
    deep = run_cli("artifacts", "list", "m", "--run-id", run_id, "-r", "--json").json()
    assert {d["path"] for d in deep} == {"m/sub", "m/weights.bin", "m/sub/meta.json"}

    dst = tmp_path / "out"
    got = run_cli("artifacts", "download", "m", "--run-id", run_id, "--dst", str(dst))
    assert got.code == 0, got.err
    assert (dst / "m" / "weights.bin").read_bytes() == b"w" * 100
    assert (dst / "m" / "sub" / "meta.json").read_text() == "{}"
    one = run_cli("artifacts", "download", "notes.txt", "--run-id", run_id, "--dst", str(dst))
    assert one.code == 0 and (dst / "notes.txt").read_text() == "n"
    everything = run_cli(
        "artifacts", "download", "--run-id", run_id, "--dst", str(tmp_path / "all")
    )
    assert everything.code == 0 and (tmp_path / "all" / "notes.txt").exists()

    missing = run_cli("artifacts", "log", str(tmp_path / "nope"), "--run-id", run_id)
    assert missing.code == 1 and missing.err.startswith("trackway: error: ")
    gone = run_cli("artifacts", "download", "nope.txt", "--run-id", run_id, "--dst", str(dst))
    assert gone.code == 1 and "no artifact" in gone.err


def test_models_register_list_alias_stage(
    run_cli: Cli, api: TrackwayClient, run_id: str, tmp_path: Path
) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    api.log_artifact(run_id, weights, "model")
    source = f"runs:/{run_id}/model"
    first = run_cli("models", "register", source, "--name", "clf", "--tag", "k=v")
    assert first.code == 0 and "as version 1 of model 'clf'" in first.out
    second = run_cli("models", "register", source, "--name", "clf", "--json").json()
    assert second["version"] == 2 and second["run_id"] == run_id

    alias = run_cli("models", "alias", "clf", "champion", "1")
    assert alias.code == 0 and alias.out.strip() == "clf@champion -> version 1"
    moved = run_cli("models", "alias", "clf", "champion", "2", "--json").json()
    assert moved["previous_version"] == 1
    staged = run_cli("models", "stage", "clf", "2", "production")
    assert staged.code == 0 and "stage Production" in staged.out
    run_cli("models", "stage", "clf", "1", "Production", "--archive-existing")
    assert api.get_model_version("clf", 2).current_stage == 4  # archived

    listed = run_cli("models", "list")
    assert listed.code == 0 and "clf" in listed.out and "champion=v2" in listed.out
    versions = run_cli("models", "list", "clf", "--json").json()
    assert [(v["version"], v["stage"]) for v in versions] == [(2, "Archived"), (1, "Production")]
    assert versions[0]["aliases"] == ["champion"]

    assert run_cli("models", "alias", "clf", "champion", "--delete").code == 0
    assert api.get_model_version("clf", 2).aliases == []
    both = run_cli("models", "alias", "clf", "x")
    assert both.code == 1 and "--delete" in both.err
    bad_stage = run_cli("models", "stage", "clf", "1", "Shipped")
    assert bad_stage.code == 2
    outside = run_cli("models", "register", "file:///etc", "--name", "clf")
    assert outside.code == 1 and outside.err.count("\n") == 1
