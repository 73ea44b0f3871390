"""The MLmodel format both ways with the real `mlflow` package: MLflow loads the models
we save, and we load the models MLflow saves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.exceptions
import mlflow.models
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import trackway
from tests.models.custom_models import AddN, Vocabulary
from tests.models.mlflow_models import Doubler, Greeter
from trackway import models
from trackway.config import ServerConfig
from trackway.fluent import state
from trackway.server.app import RunningServer, create_server

# Ours, loaded by MLflow.


def test_mlflow_loads_our_sklearn_model(tmp_path: Path, table) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    models.save_model(estimator, tmp_path / "m", input_example=X.head(3))
    native = mlflow.sklearn.load_model(str(tmp_path / "m"))
    assert isinstance(native, LogisticRegression)
    np.testing.assert_array_equal(native.predict(X), estimator.predict(X))
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    # MLflow enforces our signature before calling our loader module's predict.
    np.testing.assert_array_equal(pyfunc.predict(X), estimator.predict(X))
    with pytest.raises(mlflow.exceptions.MlflowException, match="rooms"):
        pyfunc.predict(X[["size"]])
    meta = mlflow.models.Model.load(str(tmp_path / "m"))
    assert meta.signature.inputs.input_names() == ["size", "rooms"]
    pd.testing.assert_frame_equal(
        meta.load_input_example(str(tmp_path / "m")), X.head(3).reset_index(drop=True)
    )


def test_mlflow_loads_our_pickle_format_and_array_models(tmp_path: Path) -> None:
    X = np.random.default_rng(1).normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(int)
    estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    models.save_model(estimator, tmp_path / "m", input_example=X[:2], serialization_format="pickle")
    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X), estimator.predict(X)
    )
    meta = mlflow.models.Model.load(str(tmp_path / "m"))
    np.testing.assert_array_equal(meta.load_input_example(str(tmp_path / "m")), X[:2])


def test_mlflow_loads_our_custom_models(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    models.save_model(AddN(5), tmp_path / "add", input_example=frame)
    pd.testing.assert_frame_equal(
        mlflow.pyfunc.load_model(str(tmp_path / "add")).predict(frame), frame + 5
    )
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("alpha beta")
    models.save_model(Vocabulary(), tmp_path / "vocab", artifacts={"vocab": vocab})
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "vocab"))
    assert loaded.predict(pd.DataFrame({"word": ["beta", "gamma"]}))["known"].tolist() == [
        True,
        False,
    ]


# MLflow's, loaded by us.


@pytest.mark.parametrize("serialization_format", ["skops", "cloudpickle", "pickle"])
def test_we_load_mlflow_sklearn_models(tmp_path: Path, table, serialization_format: str) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(
        estimator,
        str(tmp_path / "m"),
        input_example=X.head(2),
        serialization_format=serialization_format,
        pip_requirements=["scikit-learn"],  # skips MLflow's slow requirement inference
    )
    loaded = models.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    assert [(c.name, c.type) for c in loaded.metadata.signature.inputs] == [
        ("size", "double"),
        ("rooms", "long"),
    ]
    assert loaded.metadata.run_id is None and len(loaded.metadata.model_uuid) == 32
    pd.testing.assert_frame_equal(loaded.input_example, X.head(2).reset_index(drop=True))
    native = models.load_model(str(tmp_path / "m"), flavor="sklearn")
    assert isinstance(native, LogisticRegression)
    checked = models.validate_input(loaded.metadata.signature, X.head(4))
    np.testing.assert_array_equal(loaded.predict(checked), estimator.predict(X.head(4)))


def test_we_load_mlflow_custom_models(tmp_path: Path) -> None:
    greeting = tmp_path / "greeting.txt"
    greeting.write_text("Hello\n")
    names = pd.DataFrame({"name": ["Ada", "Alan"]})
    mlflow.pyfunc.save_model(
        str(tmp_path / "greeter"),
        python_model=Greeter(),
        artifacts={"greeting": str(greeting)},
        input_example=names,
        pip_requirements=["mlflow"],
    )
    loaded = models.load_model(str(tmp_path / "greeter"))
    assert list(loaded.predict(names)) == ["Hello, Ada", "Hello, Alan"]
    assert isinstance(loaded.unwrap_python_model(), Greeter)

    frame = pd.DataFrame({"x": [1.5]})
    mlflow.pyfunc.save_model(
        str(tmp_path / "doubler"), python_model=Doubler(), pip_requirements=["mlflow"]
    )
    doubled = models.load_model(str(tmp_path / "doubler")).predict(frame)
    pd.testing.assert_frame_equal(doubled, frame * 2)


# Through the server: our model logged over gRPC, loaded by MLflow over the REST door.


@pytest.fixture
def rest_server(tmp_path: Path, clean_env: None) -> Iterator[RunningServer]:
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=f"sqlite:///{tmp_path / 'trackway.db'}",
            artifacts_destination=(tmp_path / "artifacts").as_uri(),
            threads=16,
        )
    )
    state.reset()
    trackway.set_tracking_uri(f"grpc://127.0.0.1:{running.port}")
    url = f"http://127.0.0.1:{running.http_port}"
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    yield running
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])
    state.reset()
    running.stop(grace=1.0)


def test_mlflow_loads_our_logged_model_through_the_server(
    rest_server: RunningServer, table
) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    name = f"rest-{uuid.uuid4().hex[:6]}"
    with trackway.start_run():
        info = models.log_model(
            estimator, "model", input_example=X.head(2), registered_model_name=name
        )
    with trackway.TrackwayClient(f"grpc://127.0.0.1:{rest_server.port}") as client:
        client.set_registered_model_alias(name, "champion", 1)
    for uri in (info.model_uri, f"models:/{name}@champion", f"models:/{name}/1"):
        loaded = mlflow.pyfunc.load_model(uri)
        np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    assert isinstance(mlflow.sklearn.load_model(info.model_uri), LogisticRegression)
