"""The scikit-learn flavor: an estimator pickled next to an MLmodel file that MLflow's
`mlflow.sklearn.load_model` reads as its own (`pickled_model`, `serialization_format`,
`sklearn_version`).

Its `python_function` loader is this module (`_load_pyfunc`, MLflow's protocol), so
`mlflow.pyfunc.load_model` loads it too wherever trackway is installed.

Loading deserializes a pickle, which runs code: load only models you trust.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from trackway.errors import InvalidArgument
from trackway.models import serialization
from trackway.models.flavor import Written, pyfunc_settings
from trackway.models.mlmodel import ModelMetadata, inside

FLAVOR = "sklearn"
MODEL_FILE = "model.pkl"
PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


def is_estimator(model: object) -> bool:
    """True for a scikit-learn estimator (only when scikit-learn is installed)."""
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(model, BaseEstimator)


def default_requirements(serialization_format: str) -> list[str]:
    found = ["trackway", "scikit-learn", "numpy", "scipy"]
    if serialization_format == "cloudpickle":
        found.append("cloudpickle")
    return found


def write(
    model: Any,
    model_dir: Path,
    *,
    serialization_format: str = "cloudpickle",
    pyfunc_predict_fn: str = "predict",
) -> Written:
    """Pickles the estimator into `model_dir`; the flavor part of `save_model`."""
    import sklearn

    if not is_estimator(model):
        raise InvalidArgument(f"the sklearn flavor takes an estimator, not {type(model).__name__}")
    if pyfunc_predict_fn not in PREDICT_FNS or not hasattr(model, pyfunc_predict_fn):
        raise InvalidArgument(
            f"pyfunc_predict_fn {pyfunc_predict_fn!r}: use a method the estimator has, one of "
            f"{', '.join(f for f in PREDICT_FNS if hasattr(model, f))}"
        )
    serialization.dump(model, model_dir / MODEL_FILE, serialization_format)
    flavors = {
        **pyfunc_settings(__name__, model_path=MODEL_FILE, predict_fn=pyfunc_predict_fn),
        FLAVOR: {
            "pickled_model": MODEL_FILE,
            "serialization_format": serialization_format,
            "sklearn_version": sklearn.__version__,
            "code": None,
        },
    }
    return Written(
        flavors,
        default_requirements(serialization_format),
        predict=getattr(model, pyfunc_predict_fn),
    )


def load_native(model_dir: Path, metadata: ModelMetadata) -> Any:
    """The estimator of a local model folder. Deserializes: trusted models only."""
    conf = metadata.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidArgument(
            f"the model at {model_dir} has no sklearn flavor (it has {', '.join(metadata.flavors)})"
        )
    path = inside(model_dir, conf.get("pickled_model"), "sklearn.pickled_model")
    return serialization.load_trusted(
        path,
        str(conf.get("serialization_format") or "pickle"),
        conf.get("skops_trusted_types"),
    )


class SklearnPyfunc:
    """An estimator seen through the python_function flavor."""

    def __init__(self, model: Any) -> None:
        self.sklearn_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.sklearn_model.predict(data)

    def predict_proba(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.sklearn_model.predict_proba(data)

    def predict_log_proba(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.sklearn_model.predict_log_proba(data)

    def decision_function(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.sklearn_model.decision_function(data)

    def transform(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.sklearn_model.transform(data)


def load_implementation(model_dir: Path, metadata: ModelMetadata) -> SklearnPyfunc:
    """The python_function implementation for `trackway.models.load_model`."""
    return SklearnPyfunc(load_native(model_dir, metadata))


def _load_pyfunc(path: str) -> SklearnPyfunc:
    """MLflow's loader protocol: `mlflow.pyfunc.load_model` calls this with the model's
    folder (or its model file) when the MLmodel names this module."""
    model_dir = Path(os.path.dirname(path) if os.path.isfile(path) else path)
    return load_implementation(model_dir, ModelMetadata.load(model_dir))


def save_model(sk_model: Any, path: str | os.PathLike[str], **options: Any) -> ModelMetadata:
    """`trackway.models.save_model(sk_model, path, flavor="sklearn", ...)`."""
    from trackway.models.save import save_model as save

    return save(sk_model, path, flavor=FLAVOR, **options)


def log_model(sk_model: Any, artifact_path: str = "model", **options: Any) -> Any:
    """`trackway.models.log_model(sk_model, artifact_path, flavor="sklearn", ...)`."""
    from trackway.models.log import log_model as log

    return log(sk_model, artifact_path, flavor=FLAVOR, **options)


def load_model(model_uri: str, dst_path: str | os.PathLike[str] | None = None) -> Any:
    """The estimator itself (not the pyfunc wrapper) of any model URI that
    `trackway.models.load_model` accepts. Deserializes: load only trusted models."""
    from trackway.models.load import load_model as load

    return load(model_uri, flavor=FLAVOR, dst_path=dst_path)
