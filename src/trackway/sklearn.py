"""Autologging for scikit-learn: `trackway.autolog()` (or `trackway.sklearn.autolog()`).

Once on, every scikit-learn estimator's `fit` logs, into the active run (or a run of its
own, started before the fit and ended after it):

- params: `get_params(deep=True)`, values cut to the server's 6,000 characters;
- tags: `estimator_name` and `estimator_class`;
- training metrics, on the data it was fitted on: for classifiers
  `training_accuracy_score`, `training_precision_score`, `training_recall_score`,
  `training_f1_score` (weighted), plus `training_log_loss` and `training_roc_auc` when
  it has `predict_proba`; for regressors `training_mean_squared_error`,
  `training_root_mean_squared_error`, `training_mean_absolute_error`,
  `training_r2_score`; and `training_score` (the estimator's `score`);
- for hyper-parameter searches, `best_<param>` params and `best_cv_score`;
- the model, through `trackway.models.log_model`, into the run's folder `model` (or
  `model-2`, `model-3`... for later fits into the same run), with an input example of
  the first rows and the signature inferred from it.

A fit inside a logged fit (a Pipeline's steps, a GridSearchCV's candidates, a
subclass's `super().fit`) is not logged again. Autologging never breaks a fit: its own
failures are warnings. `autolog(disable=True)` restores every original `fit`.

The scikit-learn flavor's `save_model`, `log_model` and `load_model` are here too, under
the names MLflow users know.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from trackway.tracking.limits import MAX_BATCH_PARAMS, MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH

__all__ = ["autolog", "load_model", "log_model", "save_model"]

AUTOLOG_TAG = "mlflow.autologging"
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class _Config:
    log_models: bool
    log_input_examples: bool
    registered_model_name: str | None
    silent: bool


_lock = threading.Lock()
_config: _Config | None = None
_originals: dict[type, Callable[..., Any]] = {}  # class → the fit it defined itself
_local = threading.local()


def autolog(
    *,
    log_models: bool = True,
    log_input_examples: bool = True,
    registered_model_name: str | None = None,
    disable: bool = False,
    silent: bool = False,
) -> None:
    """Turns scikit-learn autologging on (again, with new settings), or off with
    `disable=True`. Without scikit-learn installed it does nothing (and says so unless
    `silent`). `registered_model_name` registers each logged model as a new version."""
    global _config
    with _lock:
        if disable:
            _config = None
            for cls, original in _originals.items():
                setattr(cls, "fit", original)  # noqa: B010 (restoring, by name)
            _originals.clear()
            return
        try:
            from sklearn.utils import all_estimators
        except ImportError:
            if not silent:
                warnings.warn("scikit-learn is not installed: autologging is off", stacklevel=2)
            return
        _config = _Config(log_models, log_input_examples, registered_model_name, silent)
        for _, estimator in all_estimators():
            owner = next((c for c in estimator.__mro__ if "fit" in c.__dict__), None)
            if owner is not None and owner not in _originals:
                _originals[owner] = owner.__dict__["fit"]
                setattr(owner, "fit", _patched(owner.__dict__["fit"]))  # noqa: B010


def save_model(sk_model: Any, path: str | os.PathLike[str], **options: Any) -> Any:
    """`trackway.models.save_model(sk_model, path, flavor="sklearn", ...)`."""
    from trackway.models import sklearn as flavor

    return flavor.save_model(sk_model, path, **options)


def log_model(sk_model: Any, artifact_path: str = "model", **options: Any) -> Any:
    """`trackway.models.log_model(sk_model, artifact_path, flavor="sklearn", ...)`."""
    from trackway.models import sklearn as flavor

    return flavor.log_model(sk_model, artifact_path, **options)


def load_model(model_uri: str, dst_path: str | os.PathLike[str] | None = None) -> Any:
    """The estimator of a model URI (see `trackway.models.load_model`). This unpickles,
    which runs the model's code: load only models you trust."""
    from trackway.models import sklearn as flavor

    return flavor.load_model(model_uri, dst_path)


def _patched(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)  # keeps the signature, which metadata routing inspects
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = _config
        if config is None or _depth() > 0:
            return original(self, *args, **kwargs)
        with _outermost():
            return _logged_fit(config, original, self, args, kwargs)

    return fit


def _depth() -> int:
    """How many patched fits this thread is inside."""
    found: int = getattr(_local, "depth", 0)
    return found


@contextmanager
def _outermost() -> Iterator[None]:
    _local.depth = _depth() + 1
    try:
        yield
    finally:
        _local.depth -= 1


def _warn(config: _Config, what: str, exc: BaseException) -> None:
    if not config.silent:
        warnings.warn(
            f"trackway autologging: {what} failed: {type(exc).__name__}: {exc}", stacklevel=4
        )


def _logged_fit(
    config: _Config,
    original: Callable[..., Any],
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    import trackway

    started = None
    try:
        if trackway.active_run() is None:
            started = trackway.start_run(tags={AUTOLOG_TAG: "sklearn"})
    except Exception as exc:
        _warn(config, "starting a run", exc)
    if trackway.active_run() is not None:
        try:
            _log_params_and_tags(estimator)
        except Exception as exc:
            _warn(config, "logging the params", exc)
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException as exc:
        if started is not None:
            from trackway.fluent.runs import status_for

            _end(config, status_for(type(exc), exc))  # FAILED, or KILLED on Ctrl-C
        raise
    if trackway.active_run() is not None:
        X, y, weights = _fit_data(original, estimator, args, kwargs)
        for what, step in (
            ("logging the training metrics", lambda: _log_metrics(estimator, X, y, weights)),
            ("logging the search's best params", lambda: _log_search_winner(estimator)),
            ("logging the model", lambda: _log_model(config, estimator, X)),
        ):
            try:
                step()
            except Exception as exc:
                _warn(config, what, exc)
    if started is not None:
        _end(config, "FINISHED")
    return result


def _end(config: _Config, status: str) -> None:
    import trackway

    try:
        trackway.end_run(status)
    except Exception as exc:
        _warn(config, "ending the run", exc)


def _fit_data(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """X, y and sample_weight of a fit call, whatever way they were passed."""
    try:
        named = inspect.signature(original).bind(estimator, *args, **kwargs).arguments
    except TypeError:
        named = {}
    extra = next((v for v in named.values() if isinstance(v, dict)), {}) if named else {}
    X = named.get("X", args[0] if args else None)
    y = named.get("y", named.get("Y", args[1] if len(args) > 1 else None))
    weights = named.get("sample_weight", extra.get("sample_weight"))
    return X, y, weights


def _current() -> Any:
    import trackway

    run = trackway.active_run()
    if run is None:
        raise RuntimeError("no active run")
    return run


def _log_params_and_tags(estimator: Any) -> None:
    params = {k: _cut(v) for k, v in estimator.get_params(deep=True).items()}
    items = [(k, v) for k, v in params.items() if len(k) <= MAX_KEY_LENGTH]
    run = _current()
    tags = {
        "estimator_name": type(estimator).__name__,
        "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
    }
    run.client.log_batch(run.run_id, params=items[:MAX_BATCH_PARAMS], tags=tags)
    for start in range(MAX_BATCH_PARAMS, len(items), MAX_BATCH_PARAMS):
        run.client.log_batch(run.run_id, params=items[start : start + MAX_BATCH_PARAMS])


def _cut(value: object) -> str:
    text = str(value)
    return (
        text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."
    )


def _log_metrics(estimator: Any, X: Any, y: Any, weights: Any) -> None:
    from trackway.client import Metric

    found = training_metrics(estimator, X, y, weights)
    now = time.time_ns() // 1_000_000
    points = [Metric(k, v, 0, now) for k, v in found.items() if math.isfinite(v)]
    if points:
        run = _current()
        run.client.log_batch(run.run_id, metrics=points)


def _log_search_winner(estimator: Any) -> None:
    """A hyper-parameter search's best params and score, known once it is fitted."""
    from trackway.client import Metric

    best = getattr(estimator, "best_params_", None)
    if not isinstance(best, dict):
        return
    run = _current()
    items = [(f"best_{k}", _cut(v)) for k, v in best.items() if len(k) + 5 <= MAX_KEY_LENGTH]
    score = getattr(estimator, "best_score_", None)
    points = []
    if isinstance(score, (int, float)) and math.isfinite(score):
        points.append(Metric("best_cv_score", float(score), 0, time.time_ns() // 1_000_000))
    run.client.log_batch(run.run_id, metrics=points, params=items[:MAX_BATCH_PARAMS])


def training_metrics(estimator: Any, X: Any, y: Any, weights: Any = None) -> dict[str, float]:
    """The training metrics of a fitted estimator on its training data (see the module
    docstring); none for estimators fitted without targets."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    if X is None or y is None or not hasattr(estimator, "predict"):
        return {}
    found: dict[str, float] = {}
    predicted = estimator.predict(X)
    if is_classifier(estimator):
        found["training_accuracy_score"] = metrics.accuracy_score(
            y, predicted, sample_weight=weights
        )
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            y, predicted, average="weighted", sample_weight=weights, zero_division=0
        )
        found.update(
            training_precision_score=precision, training_recall_score=recall, training_f1_score=f1
        )
        if hasattr(estimator, "predict_proba"):
            found.update(_probability_metrics(estimator, X, y, weights))
    elif is_regressor(estimator):
        mse = metrics.mean_squared_error(y, predicted, sample_weight=weights)
        found.update(
            training_mean_squared_error=mse,
            training_root_mean_squared_error=math.sqrt(mse),
            training_mean_absolute_error=metrics.mean_absolute_error(
                y, predicted, sample_weight=weights
            ),
            training_r2_score=metrics.r2_score(y, predicted, sample_weight=weights),
        )
    if hasattr(estimator, "score"):
        weighted = {"sample_weight": weights} if weights is not None else {}
        found["training_score"] = estimator.score(X, y, **weighted)
    return {k: float(v) for k, v in found.items()}


def _probability_metrics(estimator: Any, X: Any, y: Any, weights: Any) -> dict[str, float]:
    """log loss and ROC AUC; skipped, not failed, where they are undefined (one class)."""
    import numpy as np
    from sklearn import metrics

    found: dict[str, float] = {}
    proba = estimator.predict_proba(X)
    labels = getattr(estimator, "classes_", None)
    try:
        found["training_log_loss"] = metrics.log_loss(
            y, proba, sample_weight=weights, labels=labels
        )
        if np.shape(proba)[1] == 2:
            found["training_roc_auc"] = metrics.roc_auc_score(y, proba[:, 1], sample_weight=weights)
        else:
            found["training_roc_auc"] = metrics.roc_auc_score(
                y,
                proba,
                multi_class="ovr",
                average="weighted",
                sample_weight=weights,
                labels=labels,
            )
    except ValueError:
        pass
    return found


def _log_model(config: _Config, estimator: Any, X: Any) -> None:
    if not config.log_models:
        return
    from trackway.models.log import log_model as log

    method = next((m for m in ("predict", "transform") if hasattr(estimator, m)), None)
    if method is None:
        return  # nothing a loaded model could be asked
    example = _head(X) if config.log_input_examples else None
    log(
        estimator,
        _free_folder(),
        flavor="sklearn",
        input_example=example,
        pyfunc_predict_fn=method,
        registered_model_name=config.registered_model_name,
    )


def _free_folder() -> str:
    """ "model", or "model-2", "model-3"... when earlier fits of the run logged theirs:
    writing over a model folder would mix the files of two models."""
    run = _current()
    taken = {f.path for f in run.client.list_artifacts(run.run_id) if f.is_dir}
    return next(
        name
        for name in ("model", *(f"model-{n}" for n in range(2, len(taken) + 3)))
        if name not in taken
    )


def _head(X: Any) -> Any:
    """The first rows of the training data, as an input example (None for sparse data)."""
    if X is None or hasattr(X, "tocsr"):
        return None
    if hasattr(X, "iloc"):
        return X.iloc[:EXAMPLE_ROWS]
    import numpy as np

    return np.asarray(X[:EXAMPLE_ROWS])
