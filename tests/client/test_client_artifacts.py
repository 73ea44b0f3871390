"""TrackwayClient over ArtifactService, through the resumable transfer code."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackway.client import TrackwayClient
from trackway.errors import NotFound


def test_upload_list_download_delete(client: TrackwayClient, run_id: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    single = tmp_path / "single.json"
    single.write_text("{}")

    info = client.log_artifact(run_id, single, "configs")
    assert (info.path, info.size) == ("configs/single.json", 2)
    stored = client.log_artifacts(run_id, src, "data")
    assert sorted(f.path for f in stored) == ["data/a.txt", "data/sub/b.bin"]
    assert sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id)) == [
        ("configs", True),
        ("data", True),
    ]
    assert client.stat_artifact(run_id, "data/sub/b.bin").size == 2560

    out = client.download_artifacts(run_id, "data", tmp_path / "out")
    assert (out / "a.txt").read_text() == "alpha"
    assert (out / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 10
    one = client.download_artifacts(run_id, "configs/single.json", tmp_path / "one.json")
    assert one.read_text() == "{}"

    assert client.delete_artifact(run_id, "data") == 2
    with pytest.raises(NotFound):
        client.stat_artifact(run_id, "data/a.txt")


def test_experiment_scope(client: TrackwayClient, tmp_path: Path) -> None:
    eid = client.create_experiment("scoped")
    rid = client.create_run(eid).info.run_id
    f = tmp_path / "x.txt"
    f.write_text("x")
    client.log_artifact(rid, f)
    top = client.list_artifacts(experiment_id=eid)
    assert [item.path for item in top] == [rid]
    assert client.delete_artifact(path=rid, experiment_id=eid) == 1


def test_log_artifacts_wants_a_folder(client: TrackwayClient, run_id: str, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(NotADirectoryError):
        client.log_artifacts(run_id, f)
