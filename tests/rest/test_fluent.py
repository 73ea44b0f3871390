"""MLflow's fluent API (`import mlflow`) against Trackway, unchanged, on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tests.rest.conftest import Gateway, unique


def test_fluent_run_logs_everything(mlflow: Any, gateway: Gateway, tmp_path: Path) -> None:
    name = unique("fluent")
    exp_id = mlflow.set_experiment(name).experiment_id
    (tmp_path / "notes.txt").write_text("hello")
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("bb")
    with mlflow.start_run(run_name="outer") as outer:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"beta": 2, "gamma": "x"})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": float("nan")}, step=7)
        mlflow.set_tag("team", "core")
        mlflow.set_tags({"stage": "dev", "owner": "me"})
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        mlflow.log_artifacts(str(folder), artifact_path="bundle")
        mlflow.log_text("some text", "texts/t.txt")
        mlflow.log_dict({"k": [1, 2]}, "dicts/d.json")
        frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(frame, name="train", targets="y")
        mlflow.log_input(dataset, context="training")
        with mlflow.start_run(run_name="inner", nested=True) as inner:
            mlflow.log_metric("inner_metric", 3.0)
    run = mlflow.get_run(outer.info.run_id)
    assert run.info.experiment_id == exp_id
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert run.data.params == {"alpha": "0.5", "beta": "2", "gamma": "x"}
    assert run.data.metrics["loss"] == 1.0 / 3
    assert run.data.metrics["acc"] == 0.9
    assert run.data.metrics["f1"] != run.data.metrics["f1"]  # NaN survives the round trip
    assert {"team": "core", "stage": "dev", "owner": "me"}.items() <= run.data.tags.items()
    (ds_input,) = run.inputs.dataset_inputs
    assert ds_input.dataset.name == "train"
    assert {t.key: t.value for t in ds_input.tags}["mlflow.data.context"] == "training"
    child = mlflow.get_run(inner.info.run_id)
    assert child.data.tags["mlflow.parentRunId"] == outer.info.run_id
    assert child.info.status == "FINISHED"
    client = mlflow.MlflowClient()
    top = {f.path: f for f in client.list_artifacts(outer.info.run_id)}
    assert set(top) == {"notes.txt", "bundle", "texts", "dicts"}
    assert top["bundle"].is_dir and top["notes.txt"].file_size == 5
    nested = [f.path for f in client.list_artifacts(outer.info.run_id, "bundle/sub")]
    assert nested == ["bundle/sub/b.txt"]
    local = Path(client.download_artifacts(outer.info.run_id, "", str(tmp_path / "dl")))
    assert (local / "bundle" / "sub" / "b.txt").read_text() == "bb"
    assert json.loads((local / "dicts" / "d.json").read_text()) == {"k": [1, 2]}
    assert mlflow.artifacts.load_text(f"runs:/{outer.info.run_id}/texts/t.txt") == "some text"


def test_async_logging(mlflow: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "true")
    mlflow.set_experiment(unique("async"))
    with mlflow.start_run() as run:
        for step in range(50):
            mlflow.log_metric("m", float(step), step=step, synchronous=False)
        mlflow.log_param("p", "v", synchronous=False)
        mlflow.set_tag("t", "v", synchronous=False)
        mlflow.flush_async_logging()
    found = mlflow.get_run(run.info.run_id)
    assert found.data.metrics["m"] == 49.0
    assert found.data.params["p"] == "v" and found.data.tags["t"] == "v"
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
    assert [m.step for m in history] == list(range(50))
