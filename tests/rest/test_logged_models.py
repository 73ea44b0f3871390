"""MLflow 3's logged-model calls through the REST gateway, with the real MLflow client."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.rest.conftest import unique


def test_logged_model_lifecycle(client: Any) -> None:
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException

    exp = client.create_experiment(unique("lm"))
    run_id = client.create_run(exp).info.run_id
    made = client.create_logged_model(
        exp, name="net", source_run_id=run_id, params={"lr": "0.1"}, tags={"a": "1"}
    )
    assert re.fullmatch(r"m-[0-9a-f]{32}", made.model_id)
    assert made.status == LoggedModelStatus.PENDING
    assert made.artifact_location == f"mlflow-artifacts:/{exp}/models/{made.model_id}/artifacts"
    client.set_logged_model_tags(made.model_id, {"b": "2"})
    client.delete_logged_model_tag(made.model_id, "a")
    client.log_model_params(made.model_id, {"depth": "3"})
    done = client.finalize_logged_model(made.model_id, LoggedModelStatus.READY)
    assert done.status == LoggedModelStatus.READY
    got = client.get_logged_model(made.model_id)
    assert got.tags == {"b": "2"} and got.params == {"lr": "0.1", "depth": "3"}
    others = [client.create_logged_model(exp, name=f"other-{i}") for i in range(3)]
    named = client.search_logged_models([exp], filter_string="name = 'net'")
    assert [m.model_id for m in named] == [made.model_id]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_logged_models([exp], max_results=2, page_token=token)
        seen += [m.model_id for m in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted([made.model_id] + [o.model_id for o in others])
    client.delete_logged_model(made.model_id)
    with pytest.raises(MlflowException) as err:
        client.get_logged_model(made.model_id)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.get_logged_model("m-unknown")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_fluent_logged_model_calls(mlflow: Any) -> None:
    """The fluent API: initialize, tag, log params and metrics (with a dataset), finalize,
    search and get."""
    import pandas as pd
    from mlflow.entities import LoggedModelStatus

    exp = mlflow.set_experiment(unique("fluent-lm")).experiment_id
    with mlflow.start_run() as run:
        made = mlflow.initialize_logged_model(name="scorer", model_type="agent")
        mlflow.set_logged_model_tags(made.model_id, {"team": "risk", "size": 3})
        mlflow.log_model_params({"depth": "4"}, model_id=made.model_id)
        data = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="holdout")
        mlflow.log_metric("acc", 0.93, step=2, model_id=made.model_id, dataset=data)
        mlflow.log_metric("acc", 0.5, step=1, model_id=made.model_id)
        mlflow.log_metric("loss", 0.1)
    other = mlflow.initialize_logged_model(name="other", experiment_id=exp)
    done = mlflow.finalize_logged_model(made.model_id, LoggedModelStatus.READY)
    assert done.status == LoggedModelStatus.READY
    failed = mlflow.finalize_logged_model(other.model_id, "FAILED")
    assert failed.status == LoggedModelStatus.FAILED
    got = mlflow.get_logged_model(made.model_id)
    assert {k: got.tags[k] for k in ("team", "size")} == {"team": "risk", "size": "3"}
    assert got.params == {"depth": "4"}
    assert got.model_type == "agent" and got.experiment_id == exp
    points = sorted((m.step, m.value, m.run_id, m.dataset_name) for m in got.metrics)
    assert points == [(1, 0.5, run.info.run_id, None), (2, 0.93, run.info.run_id, "holdout")]
    # Points that name a model go to the model only (MLflow's server also appends them to
    # the run): `log_model` re-sends a run's metrics with the model id, and a run's history
    # is append-only here, so they would be doubled.
    assert set(mlflow.get_run(run.info.run_id).data.metrics) == {"loss"}
    found = mlflow.search_logged_models(
        experiment_ids=[exp], filter_string="metrics.acc > 0.9", output_format="list"
    )
    assert [m.model_id for m in found] == [made.model_id]
    ordered = mlflow.search_logged_models(
        experiment_ids=[exp],
        order_by=[{"field_name": "name", "ascending": False}],
        output_format="list",
    )
    assert [m.name for m in ordered] == ["scorer", "other"]
    on_holdout = mlflow.search_logged_models(
        experiment_ids=[exp], datasets=[{"dataset_name": "holdout"}], output_format="list"
    )
    assert [m.model_id for m in on_holdout] == [made.model_id]
    frame = mlflow.search_logged_models(experiment_ids=[exp], filter_string="status = 'READY'")
    assert list(frame["model_id"]) == [made.model_id]


def test_sklearn_model_loads_by_its_model_id(mlflow_sqlite: Any) -> None:
    """`log_model` creates the logged model, uploads its files through the artifact proxy
    and finalizes it; `models:/<model_id>` then loads it."""
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    from mlflow.entities import LoggedModelStatus
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_sqlite
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.8], [0.8, 0.3]])
    y = np.array([0, 1, 0, 1])
    fitted = LogisticRegression().fit(x, y)
    mlflow.set_experiment(unique("by-id"))
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 1.0, step=0)
        info = mlflow.sklearn.log_model(fitted, name="clf")
    logged = mlflow.get_logged_model(info.model_id)
    assert logged.status == LoggedModelStatus.READY
    assert logged.source_run_id == run.info.run_id and logged.name == "clf"
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
    files = mlflow.MlflowClient().list_logged_model_artifacts(info.model_id)
    assert "MLmodel" in {f.path for f in files}
    loaded = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert list(loaded.predict(x)) == list(fitted.predict(x))
    last = mlflow.last_logged_model()
    assert last is not None and last.model_id == info.model_id
