"""The `python_function` flavor: any model, loaded as an object with `predict(data)`.

A model's `python_function` settings name a `loader_module`, whose
`_load_pyfunc(path)` returns the implementation (MLflow's protocol, so MLflow loads our
models through the same key). Known loader modules, ours and MLflow's, are mapped to
our loaders here; another one is imported and called as MLflow would, which works when
that module is installed (for example one of MLflow's own flavors).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackway.errors import InvalidArgument
from trackway.models import examples
from trackway.models.mlmodel import ModelMetadata, inside


class PyFuncModel:
    """A loaded model: `predict(data)`, plus `metadata` (the parsed MLmodel: flavors,
    signature, run id, uuid, creation time) and `model_dir`, its local folder."""

    def __init__(self, impl: Any, metadata: ModelMetadata, model_dir: Path) -> None:
        self._impl = impl
        self.metadata = metadata
        self.model_dir = model_dir
        conf = metadata.pyfunc or {}
        self._predict: Callable[..., Any] = getattr(impl, str(conf.get("predict_fn", "predict")))
        params = inspect.signature(self._predict).parameters
        self._takes_params = "params" in params

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's predictions for `data`. To check untrusted data against the
        signature first, pass it through `trackway.models.signature.validate_input`."""
        if self._takes_params:
            return self._predict(data, params=params)
        return self._predict(data)

    @property
    def input_example(self) -> Any:
        """The example saved with the model (a DataFrame or an array), or None."""
        return examples.load(self.model_dir, self.metadata)

    def unwrap_python_model(self) -> Any:
        """The user's object behind a custom pyfunc model (its PythonModel instance)."""
        inner = getattr(self._impl, "python_model", None)
        if inner is None:
            raise InvalidArgument("this model is not a custom python model")
        return inner

    def __repr__(self) -> str:
        flavors = ", ".join(self.metadata.flavors)
        run = f" run_id={self.metadata.run_id}" if self.metadata.run_id else ""
        return f"<PyFuncModel flavors=[{flavors}]{run}>"


def _builtin_loaders() -> dict[str, str]:
    """Loader module → the module of ours that loads its models."""
    return {
        "trackway.models.sklearn": "trackway.models.sklearn",
        "mlflow.sklearn": "trackway.models.sklearn",
        "trackway.models.pytorch": "trackway.models.pytorch",
        "mlflow.pytorch": "trackway.models.pytorch",
        "trackway.models.python_model": "trackway.models.python_model",
        "mlflow.pyfunc.model": "trackway.models.python_model",
    }


def load_pyfunc(model_dir: Path, metadata: ModelMetadata) -> PyFuncModel:
    """Builds the PyFuncModel of a local model folder (this deserializes the model)."""
    conf = metadata.pyfunc
    if conf is None:
        raise InvalidArgument(
            f"the model at {model_dir} has no python_function flavor (it has "
            f"{', '.join(metadata.flavors)}); load it with flavor=<one of those>"
        )
    loader = conf.get("loader_module")
    if not isinstance(loader, str) or not loader:
        raise InvalidArgument("MLmodel: python_function has no loader_module")
    data_path = inside(model_dir, conf["data"], "python_function.data") if "data" in conf else None
    ours = _builtin_loaders().get(loader)
    if ours is not None:
        impl = importlib.import_module(ours).load_implementation(model_dir, metadata)
    else:
        try:
            module = importlib.import_module(loader)
        except ImportError as exc:
            raise InvalidArgument(
                f"the model's loader module {loader!r} is not installed ({exc}); install "
                "the library that saved the model"
            ) from None
        impl = module._load_pyfunc(str(data_path or model_dir))
    return PyFuncModel(impl, metadata, model_dir)
