"""TrackwayClient over ModelRegistryService."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from trackway.client import TrackwayClient
from trackway.client.registry import stage_name
from trackway.errors import AlreadyExists, InvalidArgument, NotFound


def test_model_and_version_lifecycle(client: TrackwayClient, run_id: str, tmp_path: Path) -> None:
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"weights")
    client.log_artifact(run_id, model_file, "model")
    name = f"m-{uuid.uuid4().hex[:6]}"
    created = client.create_registered_model(name, "first model", {"team": "cv"})
    assert created.name == name
    with pytest.raises(AlreadyExists):
        client.create_registered_model(name)
    v1 = client.create_model_version(name, f"runs:/{run_id}/model", tags={"k": "v"})
    v2 = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run_id
    assert client.get_model_version(name, 1).tags[0].key == "k"
    reply = client.set_registered_model_alias(name, "champion", 1)
    assert reply.previous_version == 0
    assert client.set_registered_model_alias(name, "champion", 2).previous_version == 1
    assert client.get_model_version_by_alias(name, "champion").version == 2
    moved = client.transition_model_version_stage(name, 2, "production")
    assert stage_name(moved.current_stage) == "Production"
    assert [v.version for v in client.get_latest_versions(name, ["Production"])] == [2]
    assert client.get_model_version_download_uri(name, 1).endswith("/model")
    resolved = client.resolve_model_uri(f"models:/{name}@champion")
    assert resolved.model_version.version == 2 and resolved.run_id == run_id
    assert {v.version for v in client.list_run_model_versions(run_id)} == {1, 2}
    found = client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in found) == [1, 2]
    assert [m.name for m in client.search_registered_models(f"name = '{name}'")] == [name]
    client.update_model_version(name, 1, "older")
    client.set_model_version_tag(name, 1, "a", "b")
    client.delete_model_version_tag(name, 1, "a")
    client.set_registered_model_tag(name, "x", "y")
    client.delete_registered_model_tag(name, "x")
    client.update_registered_model(name, "described")
    client.delete_registered_model_alias(name, "champion")
    client.delete_model_version(name, 1)
    renamed = client.rename_registered_model(name, name + "-r")
    assert renamed.description == "described"
    client.delete_registered_model(name + "-r")
    with pytest.raises(NotFound):
        client.get_registered_model(name + "-r")


def test_sources_outside_the_root_are_refused(client: TrackwayClient) -> None:
    name = f"m-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    with pytest.raises(InvalidArgument):
        client.create_model_version(name, "file:///etc")
    with pytest.raises(ValueError, match="stage"):
        client.transition_model_version_stage(name, 1, "Shipped")
