"""MLflow's registry client against Trackway, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rest.conftest import unique


def _run_with_model_files(client: Any, tmp_path: Any) -> tuple[str, str]:
    exp = client.create_experiment(unique("reg"))
    run_id = client.create_run(exp).info.run_id
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_artifact(run_id, str(tmp_path / "MLmodel"), artifact_path="model")
    return run_id, f"runs:/{run_id}/model"


def test_registry_flow(mlflow: Any, client: Any, tmp_path: Any) -> None:
    from mlflow.exceptions import MlflowException

    run_id, source = _run_with_model_files(client, tmp_path)
    name = unique("model")
    created = client.create_registered_model(name, tags={"team": "core"}, description="d")
    assert created.name == name and created.tags == {"team": "core"}
    v1 = client.create_model_version(name, source, run_id=run_id, tags={"k": "v"})
    assert v1.version == "1" and v1.status == "READY" and v1.run_id == run_id
    v2 = mlflow.register_model(source, name)
    assert v2.version == "2"
    staged = client.transition_model_version_stage(name, "1", "Staging")
    assert staged.current_stage == "Staging"
    client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Staging": "1", "Production": "2"}
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "2"}
    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias(name, "champion")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.set_model_version_tag(name, "1", "qa", "ok")
    client.delete_model_version_tag(name, "1", "k")
    assert client.get_model_version(name, "1").tags == {"qa": "ok"}
    client.update_model_version(name, "1", description="first")
    assert client.get_model_version(name, "1").description == "first"
    client.set_registered_model_tag(name, "x", "y")
    client.delete_registered_model_tag(name, "team")
    client.update_registered_model(name, description="new")
    got = client.get_registered_model(name)
    assert got.tags == {"x": "y"} and got.description == "new"
    uri = client.get_model_version_download_uri(name, "1")
    assert (
        uri == f"mlflow-artifacts:/{client.get_run(run_id).info.artifact_uri.split(':/')[1]}/model"
    )
    found = client.search_registered_models(filter_string=f"name = '{name}'")
    assert [m.name for m in found] == [name]
    versions = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in versions] == ["1", "2"]
    renamed = unique("renamed")
    client.rename_registered_model(name, renamed)
    assert client.get_model_version(renamed, "2").name == renamed
    client.delete_model_version(renamed, "1")
    assert [v.version for v in client.search_model_versions(f"name = '{renamed}'")] == ["2"]
    client.delete_registered_model(renamed)
    with pytest.raises(MlflowException) as err:
        client.get_registered_model(renamed)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_register_model_twice_reuses_the_registered_model(
    mlflow: Any, client: Any, tmp_path: Any
) -> None:
    _, source = _run_with_model_files(client, tmp_path)
    name = unique("twice")
    assert mlflow.register_model(source, name).version == "1"
    # The second call gets RESOURCE_ALREADY_EXISTS on create and goes on, as with MLflow.
    assert mlflow.register_model(source, name).version == "2"


def test_search_registered_models_pages(client: Any) -> None:
    prefix = unique("page")
    for i in range(5):
        client.create_registered_model(f"{prefix}-{i}")
    names: list[str] = []
    token = None
    while True:
        page = client.search_registered_models(
            filter_string=f"name LIKE '{prefix}-%'", max_results=2, page_token=token
        )
        names += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert names == [f"{prefix}-{i}" for i in range(5)]
