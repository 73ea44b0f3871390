"""log_model into a run on a live server, and load_model through every URI form
(SQLite and PostgreSQL behind the server)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import trackway
from tests.models.custom_models import AddN
from trackway import models
from trackway.artifacts import client as transfer
from trackway.client import TrackwayClient
from trackway.errors import InvalidArgument, NotFound
from trackway.server.app import RunningServer


def test_log_model_uploads_and_registers(tracked: TrackwayClient, table) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    name = f"churn-{uuid.uuid4().hex[:6]}"
    with trackway.start_run() as run:
        info = models.log_model(
            estimator, "classifier", input_example=X.head(2), registered_model_name=name
        )
    assert info.run_id == run.run_id and info.artifact_path == "classifier"
    assert info.model_uri == f"runs:/{run.run_id}/classifier"
    assert info.registered_model_version.version == 1
    assert info.signature.inputs[0].name == "size" and "sklearn" in info.flavors
    files = {f.path for f in tracked.list_artifacts(run.run_id, "classifier")}
    assert {
        "classifier/MLmodel",
        "classifier/model.pkl",
        "classifier/requirements.txt",
        "classifier/python_env.yaml",
        "classifier/conda.yaml",
        "classifier/input_example.json",
    } <= files
    history = json.loads(tracked.get_run(run.run_id).data.tags["mlflow.log-model.history"])
    assert history[0]["model_uuid"] == info.model_uuid
    assert history[0]["artifact_path"] == "classifier"
    version = tracked.get_model_version(name, 1)
    assert version.run_id == run.run_id and version.source == info.model_uri

    loaded = models.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    assert loaded.metadata.run_id == run.run_id
    assert loaded.metadata.artifact_path == "classifier"
    assert loaded.metadata.model_uuid == info.model_uuid


def test_every_uri_form_loads_the_right_version(tracked: TrackwayClient, tmp_path: Path) -> None:
    name = f"adder-{uuid.uuid4().hex[:6]}"
    uris = []
    for n in (1, 2, 3):
        with trackway.start_run():
            uris.append(models.log_model(AddN(n), name="model", registered_model_name=name))
    tracked.set_registered_model_alias(name, "champion", 2)
    tracked.transition_model_version_stage(name, 1, "Production")

    def added(uri: str) -> int:
        return int(models.load_model(uri).predict(np.array([0]))[0])

    assert added(f"runs:/{uris[0].run_id}/model") == 1
    assert added(f"models:/{name}/2") == 2
    assert added(f"models:/{name}@champion") == 2
    assert added(f"models:/{name}/Production") == 1
    assert added(f"models:/{name}/production") == 1
    assert added(f"models:/{name}/latest") == 3
    # Into a folder of the caller's choosing, then from there as a path and a file:// URI.
    local = tmp_path / "copy"
    models.load_model(f"models:/{name}@champion", dst_path=local)
    assert (local / "MLmodel").is_file()
    assert added(str(local)) == 2
    assert added(local.as_uri()) == 2
    native = models.fetch(f"models:/{name}/3")
    assert (native / "python_model.pkl").is_file()


def test_missing_and_malformed_uris(tracked: TrackwayClient) -> None:
    with trackway.start_run() as run:
        pass
    with pytest.raises(NotFound):
        models.load_model(f"models:/nobody-{uuid.uuid4().hex[:6]}/1")
    with pytest.raises(NotFound):
        models.load_model(f"runs:/{run.run_id}/no-model-here")
    with pytest.raises(InvalidArgument, match="model_uri"):
        models.load_model("models:/name/../../etc")
    with pytest.raises(InvalidArgument, match="not a run id"):
        models.load_model("runs:/not-a-run/model")


def test_get_model_info_reads_only_the_mlmodel(tracked: TrackwayClient) -> None:
    with trackway.start_run() as run:
        models.log_model(AddN(1), "m", input_example=np.array([[1.0, 2.0]]))
    info = models.get_model_info(f"runs:/{run.run_id}/m")
    assert info.run_id == run.run_id
    assert info.signature.inputs == [models.TensorSpec("float64", (-1, 2))]


def test_log_model_starts_a_run_when_none_is_active(tracked: TrackwayClient) -> None:
    info = models.log_model(AddN(1))
    assert trackway.active_run().run_id == info.run_id
    assert info.artifact_path == "model"
    trackway.end_run()
    assert tracked.get_run(info.run_id).info.status == "FINISHED"
    with pytest.raises(InvalidArgument, match="not both"):
        models.log_model(AddN(1), "a", name="b")


def test_a_version_registered_outside_any_run(
    tracked: TrackwayClient, server: RunningServer, tmp_path: Path
) -> None:
    """A version whose source is an experiment's folder (no run) downloads through the
    experiment's scope."""
    models.save_model(AddN(7), tmp_path / "m")
    experiment = tracked.get_experiment(trackway.set_experiment("no-run").experiment_id)
    where = transfer.scope(experiment_id=experiment.experiment_id)
    transfer.upload_dir(tracked.channel, where, tmp_path / "m", "shared/adder")
    name = f"orphan-{uuid.uuid4().hex[:6]}"
    tracked.create_registered_model(name)
    tracked.create_model_version(name, f"{experiment.artifact_location}/shared/adder")
    assert int(models.load_model(f"models:/{name}/1").predict(np.array([0]))[0]) == 7
