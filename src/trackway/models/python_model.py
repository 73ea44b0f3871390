"""Custom python models: a class of yours with `predict`, saved with cloudpickle.

    class AddN(trackway.models.PythonModel):
        def __init__(self, n):
            self.n = n

        def predict(self, context, model_input):   # or predict(self, model_input)
            return model_input + self.n

    trackway.models.save_model(AddN(5), "add_n", artifacts={"vocab": "vocab.txt"})

Files given as `artifacts` are copied into the model, and `context.artifacts[name]` is
their local path when the model is loaded (`load_context(context)` runs first). This is
MLflow's PythonModel idea, and the files follow MLflow's layout; the loader also reads
models saved by `mlflow.pyfunc.save_model(python_model=...)` (which needs mlflow
installed, since their classes derive from it).

Loading unpickles the object, which runs code: load only models you trust.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackway.errors import InvalidArgument
from trackway.models import serialization
from trackway.models.flavor import Written, pyfunc_settings
from trackway.models.mlmodel import ModelMetadata, inside

MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


@dataclass
class PythonModelContext:
    """What a loaded model gets: `artifacts` maps each name given at save time to the
    local path of its copy; `model_config` is the `model_config` saved with it."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """Base class of custom models. Override `predict`; `load_context` runs once when
    the model is loaded, to read artifacts or warm caches."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once at load time, before any predict."""

    def predict(self, context: PythonModelContext, model_input: Any) -> Any:
        """Predictions for `model_input`. `predict(self, model_input)` works as well."""
        raise NotImplementedError(f"{type(self).__name__} must define predict")


def _takes_context(predict: Any) -> bool:
    """Whether `predict` is `predict(context, model_input)` rather than
    `predict(model_input)`: a first parameter named context, or two positional ones."""
    try:
        params = list(inspect.signature(predict).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional and positional[0].name == "context":
        return True
    required = [p for p in positional if p.default is p.empty and p.name != "params"]
    return len(required) >= 2


class PythonModelPyfunc:
    """A custom model seen through the python_function flavor."""

    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        predict = getattr(python_model, "predict", None)
        if predict is None:
            if not callable(python_model):
                raise InvalidArgument(f"{type(python_model).__name__} has no predict method")
            predict = python_model
        self._predict = predict
        self._with_context = _takes_context(predict)
        self._with_params = "params" in _parameter_names(predict)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        args = (self.context, data) if self._with_context else (data,)
        if self._with_params:
            return self._predict(*args, params=params)
        return self._predict(*args)


def _parameter_names(fn: Any) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def default_requirements() -> list[str]:
    return ["trackway", "cloudpickle", "numpy", "pandas"]


def write(
    model: Any,
    model_dir: Path,
    *,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    model_config: Mapping[str, Any] | None = None,
) -> Written:
    """Pickles the model object and copies its artifacts; the flavor part of save_model."""
    import cloudpickle

    if not (hasattr(model, "predict") or callable(model)):
        raise InvalidArgument(
            f"a python model needs a predict method (or to be callable); "
            f"{type(model).__name__} has neither"
        )
    serialization.dump(model, model_dir / MODEL_FILE, "cloudpickle")
    saved = _copy_artifacts(model_dir, artifacts or {})
    settings: dict[str, Any] = {
        "python_model": MODEL_FILE,
        "cloudpickle_version": cloudpickle.__version__,
        "code": None,
    }
    if saved:
        settings["artifacts"] = saved
    if model_config:
        settings["model_config"] = dict(model_config)
    context = PythonModelContext(
        {name: str(model_dir / entry["path"]) for name, entry in saved.items()},
        dict(model_config or {}),
    )
    return Written(
        pyfunc_settings(__name__, **settings),
        default_requirements(),
        predict=_predict_in_memory(model, context),
    )


def _predict_in_memory(model: Any, context: PythonModelContext) -> Any:
    def run(example: Any) -> Any:
        if hasattr(model, "load_context"):
            model.load_context(context)
        return PythonModelPyfunc(model, context).predict(example)

    return run


def _copy_artifacts(
    model_dir: Path, artifacts: Mapping[str, str | os.PathLike[str]]
) -> dict[str, dict[str, str]]:
    saved = {}
    for name, source in artifacts.items():
        src = Path(source)
        if not src.exists():
            raise InvalidArgument(f"artifact {name!r}: {src} does not exist")
        if not name or "/" in name or name in (".", ".."):
            raise InvalidArgument(f"artifact name {name!r} must be a plain name")
        target = model_dir / ARTIFACTS_DIR / name / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy2(src, target)
        saved[name] = {"path": target.relative_to(model_dir).as_posix(), "uri": str(source)}
    return saved


def load_implementation(model_dir: Path, metadata: ModelMetadata) -> PythonModelPyfunc:
    """Unpickles the model (trusted models only), runs its load_context, wraps it."""
    conf = metadata.pyfunc or {}
    if "python_model" not in conf:
        raise InvalidArgument(
            "MLmodel: python_function has no python_model file (a model saved from code, "
            "which this loader does not run)"
        )
    path = inside(model_dir, conf["python_model"], "python_function.python_model")
    model = serialization.load_trusted(path, "cloudpickle")
    artifacts = {}
    for name, entry in (conf.get("artifacts") or {}).items():
        relative = entry.get("path") if isinstance(entry, dict) else entry
        artifacts[str(name)] = str(inside(model_dir, relative, f"artifact {name!r}"))
    context = PythonModelContext(artifacts, dict(conf.get("model_config") or {}))
    if _is_mlflow_model(model):
        context = _mlflow_context(artifacts, context.model_config)
    if hasattr(model, "load_context"):
        model.load_context(context)
    return PythonModelPyfunc(model, context)


def _is_mlflow_model(model: Any) -> bool:
    return any(c.__module__.startswith("mlflow.") for c in type(model).__mro__)


def _mlflow_context(artifacts: dict[str, str], model_config: dict[str, Any]) -> Any:
    """MLflow's own context class for its models, whose code may rely on its type."""
    from mlflow.pyfunc import PythonModelContext as MlflowContext

    return MlflowContext(artifacts=artifacts, model_config=model_config)


def _load_pyfunc(path: str) -> PythonModelPyfunc:
    """MLflow's loader protocol: `mlflow.pyfunc.load_model` calls this with the model's
    folder when the MLmodel names this module."""
    model_dir = Path(path)
    return load_implementation(model_dir, ModelMetadata.load(model_dir))
