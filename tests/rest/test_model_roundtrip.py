"""MLflow 3's model flow end to end: `mlflow.sklearn.log_model` (a logged model, its files
through the artifact proxy), registration, an alias, and `pyfunc.load_model` by alias."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.rest.conftest import Gateway, unique


def test_log_register_alias_load_predict(mlflow_sqlite: Any, sqlite_gateway: Gateway) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_sqlite
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(x, y)
    name = unique("clf")
    mlflow.set_experiment(unique("models"))
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 1.0)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:1])
    assert info.model_uri.startswith("models:/m-")
    assert info.run_id == run.info.run_id
    version = mlflow.register_model(info.model_uri, name)
    assert version.version == "1"
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", version.version)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict(x)) == list(model.predict(x))
    by_version = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert list(by_version.predict(x)) == list(y)
    logged = client.get_logged_model(info.model_id)
    assert logged.source_run_id == run.info.run_id
    assert logged.artifact_location.startswith("mlflow-artifacts:/")
    # runs:/<run>/model resolves through the run's logged models, as MLflow 3 does.
    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert second.version == "2"
