"""The PyTorch flavor: a `torch.nn.Module` saved in MLflow's `pytorch` layout, so that
`mlflow.pytorch.load_model` reads ours and we read MLflow's.

    MLmodel                      flavors `pytorch` (model_data, pytorch_version, code,
                                 extra_files) and `python_function` (data,
                                 pickle_module_name, this module as loader)
    data/model.pth               the whole module, `torch.save`d with cloudpickle's pickler
                                 (a TorchScript module is `torch.jit.save`d)
    data/pickle_module_info.txt  the name of the module that unpickles model.pth
    code/...                     the `code_paths`, put on sys.path when the model loads
    extra_files/...              the `extra_files`, copied as they are

We also load MLflow's `pt2` models (`data/model.pt2`, written by `torch.export`).

The python_function wrapper predicts on CPU, in eval mode, without gradients: a pandas
DataFrame becomes a float32 tensor and its predictions a DataFrame with the same index;
a numpy array (or a tensor) gives a numpy array. Floating-point input is cast to the
dtype of the model's parameters, so that float64 data (JSON, numpy's default) feeds a
float32 model.

Security: a whole-module pickle can only be read with `torch.load(weights_only=False)`,
which runs code from the file. Loading happens only when a caller asks for the model
with `load_model`; load only models you trust.

Importing this module does not import torch: `is_module` looks only at an already
imported torch, so saving any other model never pays for it.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trackway.errors import InvalidArgument
from trackway.models.flavor import Written, pyfunc_settings
from trackway.models.mlmodel import MLMODEL_FILE, ModelMetadata, inside

FLAVOR = "pytorch"
DATA_DIR = "data"
MODEL_FILE = "model.pth"
EXPORTED_FILE = "model.pt2"
PICKLE_INFO_FILE = "pickle_module_info.txt"
CODE_DIR = "code"
EXTRA_FILES_DIR = "extra_files"
# MLflow's name for "cloudpickle's Pickler, the standard Unpickler", which is how we
# write model.pth. Naming it lets `mlflow.pytorch.load_model` read our files without
# trackway; we read it (and the others below) with the standard unpickler.
PICKLE_MODULE_NAME = "mlflow.pytorch.pickle_module"
_STANDARD_UNPICKLER = {PICKLE_MODULE_NAME, "cloudpickle", "pickle"}
# Module name of a LightningModule's base → the distribution to require.
_FRAMEWORKS = {"lightning": "lightning", "pytorch_lightning": "pytorch-lightning"}


def is_module(model: object) -> bool:
    """True for a `torch.nn.Module`. A model can only be one once torch is imported, so
    this never imports torch itself."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def default_requirements(model: Any) -> list[str]:
    found = ["trackway", "torch", "cloudpickle", "numpy"]
    for cls in type(model).__mro__:
        framework = _FRAMEWORKS.get(cls.__module__.split(".")[0])
        if framework and framework not in found:
            found.append(framework)  # a LightningModule unpickles only with Lightning
    return found


def example_array(example: Any) -> Any:
    """A tensor input example as the numpy array that the example files hold."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(example, torch.Tensor):
        return example.detach().cpu().numpy()
    return example


def write(
    model: Any,
    model_dir: Path,
    *,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    extra_files: Sequence[str | os.PathLike[str]] | None = None,
) -> Written:
    """Saves the module into `model_dir`; the flavor part of `save_model`."""
    import cloudpickle
    import torch

    if not is_module(model):
        raise InvalidArgument(
            f"the pytorch flavor takes a torch.nn.Module, not {type(model).__name__}"
        )
    code = _copy_code(model_dir, code_paths or [])
    extras = _copy_extra_files(model_dir, extra_files or [])
    data = model_dir / DATA_DIR
    data.mkdir()
    (data / PICKLE_INFO_FILE).write_text(PICKLE_MODULE_NAME, encoding="utf-8")
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, str(data / MODEL_FILE))
    else:
        torch.save(model, data / MODEL_FILE, pickle_module=cloudpickle)
    native: dict[str, Any] = {
        "model_data": DATA_DIR,
        "pytorch_version": str(torch.__version__),
        "code": code,
    }
    if extras:
        native["extra_files"] = [{"path": path} for path in extras]
    flavors = {
        **pyfunc_settings(
            __name__, data=DATA_DIR, pickle_module_name=PICKLE_MODULE_NAME, code=code
        ),
        FLAVOR: native,
    }
    return Written(flavors, default_requirements(model), predict=_predict_in_memory(model))


def _copy_code(model_dir: Path, code_paths: Sequence[str | os.PathLike[str]]) -> str | None:
    """Copies each file or folder into `code/`; the MLmodel's `code` setting."""
    if not code_paths:
        return None
    for source in code_paths:
        _copy(Path(source), model_dir / CODE_DIR, "code path")
    return CODE_DIR


def _copy_extra_files(model_dir: Path, extra_files: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Copies each file into `extra_files/`; their paths relative to the model."""
    return [
        _copy(Path(source), model_dir / EXTRA_FILES_DIR, "extra file")
        .relative_to(model_dir)
        .as_posix()
        for source in extra_files
    ]


def _copy(source: Path, folder: Path, what: str) -> Path:
    if not source.exists():
        raise InvalidArgument(f"{what} {str(source)!r} does not exist")
    target = folder / source.resolve().name
    if target.exists():
        raise InvalidArgument(f"two {what}s are named {target.name!r}; rename one")
    folder.mkdir(exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, target)
    return target


def _predict_in_memory(model: Any) -> Any:
    """Predicts with the caller's module for the signature, on its own device, and leaves
    it in the train/eval mode it was in."""

    def run(example: Any) -> Any:
        was_training = model.training
        model.eval()
        try:
            return TorchPyfunc(model).predict(example)
        finally:
            model.train(was_training)

    return run


def load_native(model_dir: Path, metadata: ModelMetadata) -> Any:
    """The module of a local model folder, on the CPU and in eval mode. Unpickles: load
    only trusted models."""
    conf = metadata.flavors.get(FLAVOR)
    if conf is None:
        raise InvalidArgument(
            f"the model at {model_dir} has no pytorch flavor (it has {', '.join(metadata.flavors)})"
        )
    if conf.get("code"):
        # Classes pickled by reference are imported from the code saved with the model.
        code = str(inside(model_dir, conf["code"], "pytorch.code"))
        if code not in sys.path:
            sys.path.insert(0, code)
    data = inside(model_dir, conf.get("model_data") or DATA_DIR, "pytorch.model_data")
    pickle_module = str((metadata.pyfunc or {}).get("pickle_module_name") or "pickle")
    if data.is_file():  # model_data naming the model file itself
        return _unpickle(data, pickle_module)
    if (data / MODEL_FILE).is_file():
        info = data / PICKLE_INFO_FILE
        name = info.read_text(encoding="utf-8").strip() if info.is_file() else ""
        return _unpickle(data / MODEL_FILE, name or pickle_module)
    if (data / EXPORTED_FILE).is_file():
        import torch

        # torch.export.load also unpickles parts of the archive: trusted models only.
        return torch.export.load(str(data / EXPORTED_FILE)).module()
    raise InvalidArgument(
        f"the model at {model_dir} has no model file: neither {data.name}/{MODEL_FILE} "
        f"nor {data.name}/{EXPORTED_FILE}"
    )


def _unpickle(path: Path, pickle_module_name: str) -> Any:
    """Runs torch.load on a whole-module pickle (or a TorchScript archive, which torch
    hands to torch.jit.load). This executes the file's code: trusted models only."""
    import torch

    if pickle_module_name in _STANDARD_UNPICKLER:
        module: Any = importlib.import_module("pickle")
    else:
        try:
            module = importlib.import_module(pickle_module_name)
        except ImportError:
            raise InvalidArgument(
                f"the model was pickled with {pickle_module_name!r}, which is not installed"
            ) from None
    model = torch.load(path, map_location="cpu", pickle_module=module, weights_only=False)
    if not isinstance(model, torch.nn.Module):
        raise InvalidArgument(f"{path.name} holds a {type(model).__name__}, not a torch module")
    return model.eval()


class TorchPyfunc:
    """A module seen through the python_function flavor (see the module docstring).
    The module is in eval mode already: `load_native` puts it there (a `torch.export`
    module has no modes)."""

    def __init__(self, model: Any) -> None:
        self.pytorch_model = model
        params = [p for p in model.parameters()] + [b for b in model.buffers()]
        self.device = params[0].device if params else None
        floats = [p.dtype for p in params if p.is_floating_point()]
        self.float_dtype = floats[0] if floats else None

    def get_raw_model(self) -> Any:
        """The module itself (MLflow's name for it)."""
        return self.pytorch_model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions for a DataFrame (a DataFrame back), a numpy array or a tensor (a
        numpy array back); `params` are passed to `forward` as keyword arguments."""
        import torch

        # Arrays are copied: a read-only one (pandas hands those out) cannot back a tensor.
        frame = _is_frame(data)
        if frame:
            tensor = torch.from_numpy(np.array(data.to_numpy(dtype=np.float32)))
        elif isinstance(data, torch.Tensor):
            tensor = data
        elif isinstance(data, np.ndarray):
            try:
                tensor = torch.from_numpy(np.array(data))
            except TypeError:
                raise InvalidArgument(
                    f"a numpy array of dtype {data.dtype} cannot be a tensor; send numbers"
                ) from None
        else:
            raise InvalidArgument(
                f"a pytorch model predicts on a pandas DataFrame, a numpy array or a torch "
                f"tensor, not {type(data).__name__}"
            )
        if tensor.is_floating_point() and self.float_dtype is not None:
            tensor = tensor.to(self.float_dtype)
        if self.device is not None:
            tensor = tensor.to(self.device)
        with torch.no_grad():
            output = self.pytorch_model(tensor, **(params or {}))
        if not isinstance(output, torch.Tensor):
            raise TypeError(
                f"the model's forward returned a {type(output).__name__}; the python_function "
                "flavor needs it to return one tensor"
            )
        result = output.detach().cpu().numpy()
        if frame:
            import pandas as pd

            return pd.DataFrame(result, index=data.index)
        return result


def _is_frame(data: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(data, pd.DataFrame)


def load_implementation(model_dir: Path, metadata: ModelMetadata) -> TorchPyfunc:
    """The python_function implementation for `trackway.models.load_model`."""
    return TorchPyfunc(load_native(model_dir, metadata))


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> TorchPyfunc:
    """MLflow's loader protocol: `mlflow.pyfunc.load_model` calls this with the model's
    `data` folder (ours names one) or the model's folder. The model runs on the CPU
    whatever `model_config` asks."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    if not (folder / MLMODEL_FILE).is_file() and (folder.parent / MLMODEL_FILE).is_file():
        folder = folder.parent
    return load_implementation(folder, ModelMetadata.load(folder))


def save_model(pytorch_model: Any, path: str | os.PathLike[str], **options: Any) -> ModelMetadata:
    """`trackway.models.save_model(pytorch_model, path, flavor="pytorch", ...)`; with
    the options `code_paths` and `extra_files` as MLflow has them."""
    from trackway.models.save import save_model as save

    return save(pytorch_model, path, flavor=FLAVOR, **options)


def log_model(pytorch_model: Any, artifact_path: str = "model", **options: Any) -> Any:
    """`trackway.models.log_model(pytorch_model, artifact_path, flavor="pytorch", ...)`."""
    from trackway.models.log import log_model as log

    return log(pytorch_model, artifact_path, flavor=FLAVOR, **options)


def load_model(model_uri: str, dst_path: str | os.PathLike[str] | None = None) -> Any:
    """The `torch.nn.Module` itself (not the pyfunc wrapper), in eval mode on the CPU,
    of any model URI that `trackway.models.load_model` accepts. Unpickles with
    `torch.load(weights_only=False)`, which runs the model's code: load only trusted
    models."""
    from trackway.models.load import load_model as load

    return load(model_uri, flavor=FLAVOR, dst_path=dst_path)
