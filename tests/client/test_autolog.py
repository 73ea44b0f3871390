"""scikit-learn autologging against a live server: what one fit logs, that a Pipeline or
a search is one fit, that disable restores every fit, and that autologging never
breaks a fit."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import trackway
import trackway.sklearn
from trackway import models
from trackway.client import TrackwayClient
from trackway.fluent import state

CLASSIFIER_METRICS = {
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
    "training_log_loss",
    "training_roc_auc",
    "training_score",
}
REGRESSOR_METRICS = {
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
    "training_score",
}


@pytest.fixture
def autologged(fluent: TrackwayClient) -> Iterator[TrackwayClient]:
    trackway.autolog()
    yield fluent
    trackway.autolog(disable=True)


@pytest.fixture
def iris() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris(as_frame=True)
    return data.data, data.target.to_numpy()


def _runs(client: TrackwayClient) -> list:
    """The runs of the fluent fixture's experiment."""
    return list(client.search_runs([str(state.process().experiment_id)]))


def test_a_classifier_fit_logs_params_metrics_tags_and_model(
    autologged: TrackwayClient, iris
) -> None:
    X, y = iris
    estimator = LogisticRegression(C=0.5, max_iter=500).fit(X, y)
    assert trackway.active_run() is None  # the run autologging started is ended
    [run] = _runs(autologged)
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "500"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(estimator.score(X, y))
    assert 0.5 < run.data.metrics["training_roc_auc"] <= 1.0
    loaded = models.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    signature = loaded.metadata.signature
    assert [c.name for c in signature.inputs] == list(X.columns)
    assert len(loaded.input_example) == 5


def test_a_regressor_fit_on_arrays(autologged: TrackwayClient) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    y = X @ np.array([2.0, -1.0]) + rng.normal(scale=0.1, size=40)
    LinearRegression().fit(X, y)
    [run] = _runs(autologged)
    assert set(run.data.metrics) == REGRESSOR_METRICS
    mse = run.data.metrics["training_mean_squared_error"]
    assert run.data.metrics["training_root_mean_squared_error"] == pytest.approx(mse**0.5)
    assert run.data.metrics["training_r2_score"] > 0.9
    info = models.get_model_info(f"runs:/{run.info.run_id}/model")
    assert info.signature.inputs == [models.TensorSpec("float64", (-1, 2))]


def test_a_pipeline_is_one_fit(autologged: TrackwayClient, iris) -> None:
    X, y = iris
    pipeline = Pipeline([("scale", StandardScaler()), ("svc", SVC(C=2.0))])
    pipeline.fit(X, y)
    [run] = _runs(autologged)  # the steps' fits add no runs of their own
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.params["svc__C"] == "2.0" and run.data.params["scale__with_mean"] == "True"
    # SVC without probability=True has no predict_proba: no log loss, no ROC AUC.
    assert "training_log_loss" not in run.data.metrics
    assert "training_accuracy_score" in run.data.metrics
    files = {f.path for f in autologged.list_artifacts(run.info.run_id, "model")}
    assert "model/MLmodel" in files


def test_a_search_is_one_fit_with_its_winner(autologged: TrackwayClient, iris) -> None:
    X, y = iris
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0]}, cv=2)
    search.fit(X, y)
    [run] = _runs(autologged)
    assert run.data.tags["estimator_name"] == "GridSearchCV"
    assert run.data.params["best_C"] == str(search.best_params_["C"])
    assert run.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)


def test_fits_inside_an_active_run_log_there(autologged: TrackwayClient, iris) -> None:
    X, y = iris
    with trackway.start_run() as run:
        RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
        assert trackway.active_run() is run  # the user's run stays open
        KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)  # no targets, no metrics
    [found] = _runs(autologged)
    assert found.info.run_id == run.run_id
    assert found.data.tags["estimator_name"] == "KMeans"  # the last fit's tags win
    assert found.data.params["n_estimators"] == "3" and found.data.params["n_clusters"] == "2"
    assert "training_accuracy_score" in found.data.metrics
    # Each fit keeps its own model folder.
    forest = models.load_model(f"runs:/{run.run_id}/model", flavor="sklearn")
    kmeans = models.load_model(f"runs:/{run.run_id}/model-2", flavor="sklearn")
    assert isinstance(forest, RandomForestClassifier) and isinstance(kmeans, KMeans)


def test_disable_restores_the_original_fits(fluent: TrackwayClient, iris) -> None:
    X, y = iris
    original = LogisticRegression.fit
    trackway.autolog()
    assert LogisticRegression.fit is not original
    assert LogisticRegression.fit.__wrapped__ is original
    trackway.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is original
    LogisticRegression(max_iter=300).fit(X, y)
    assert _runs(fluent) == []


def test_models_can_be_left_out(fluent: TrackwayClient, iris) -> None:
    X, y = iris
    trackway.autolog(log_models=False)
    try:
        LogisticRegression(max_iter=300).fit(X, y)
    finally:
        trackway.autolog(disable=True)
    [run] = _runs(fluent)
    assert fluent.list_artifacts(run.info.run_id) == []
    assert "training_score" in run.data.metrics


class BrokenPredict(LogisticRegression):
    """Fits as LogisticRegression does (through its patched fit); its predict raises, so
    the training metrics cannot be computed."""

    def predict(self, X: object) -> object:
        raise RuntimeError("predict is broken")


@pytest.mark.filterwarnings("ignore:the signature's outputs are unknown")
def test_an_autologging_failure_is_a_warning_not_a_broken_fit(
    autologged: TrackwayClient, iris
) -> None:
    X, y = iris
    with (
        pytest.warns(UserWarning, match="training metrics failed: RuntimeError"),
        trackway.start_run(),
    ):
        fitted = BrokenPredict(max_iter=300).fit(X, y)
    assert fitted.coef_.shape == (3, 4)
    # Logging the same param with another value breaks the server's write-once rule.
    with trackway.start_run():
        LogisticRegression(C=1.0, max_iter=300).fit(X, y)
        with pytest.warns(UserWarning, match="logging the params failed"):
            estimator = LogisticRegression(C=2.0, max_iter=300).fit(X, y)
    assert estimator.coef_.shape == (3, 4)


def test_an_unreachable_server_does_not_break_the_fit(
    autologged: TrackwayClient, iris, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = iris
    state.reset()
    monkeypatch.setenv("TRACKWAY_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("TRACKWAY_RETRY_SECONDS", "0.5")
    with pytest.warns(UserWarning, match="starting a run failed"):
        estimator = LogisticRegression(max_iter=300).fit(X, y)
    assert estimator.score(X, y) > 0.9


def test_a_failing_fit_fails_its_run(autologged: TrackwayClient) -> None:
    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0])  # one class only
    [run] = _runs(autologged)
    assert run.info.status == "FAILED"


def test_without_autologging_nothing_is_logged(fluent: TrackwayClient, iris) -> None:
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(max_iter=300).fit(X, y)
    assert _runs(fluent) == []
