"""save_model: a model folder with its MLmodel, environment files and input example."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import trackway
from trackway.errors import AlreadyExists, InvalidArgument
from trackway.models import environment, examples
from trackway.models import python_model as custom
from trackway.models import pytorch as pt
from trackway.models import sklearn as sk
from trackway.models.flavor import Written
from trackway.models.inference import infer_schema
from trackway.models.mlmodel import ModelMetadata
from trackway.models.schema import Signature

PYFUNC_NAMES = ("python_function", "pyfunc")


def choose_flavor(model: Any, flavor: str | None) -> str:
    """The flavor to save `model` with: the one asked for, else "sklearn" for an
    estimator, "pytorch" for a torch.nn.Module and "python_function" for anything else
    with a predict method."""
    if flavor is None:
        if sk.is_estimator(model):
            return sk.FLAVOR
        return pt.FLAVOR if pt.is_module(model) else "python_function"
    if flavor in PYFUNC_NAMES:
        return "python_function"
    if flavor in (sk.FLAVOR, pt.FLAVOR):
        return flavor
    raise InvalidArgument(f"flavor {flavor!r}: use 'sklearn', 'pytorch' or 'python_function'")


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    input_example: Any = None,
    signature: Signature | None = None,
    pip_requirements: Sequence[str] | None = None,
    extra_pip_requirements: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    model_config: Mapping[str, Any] | None = None,
    serialization_format: str = "cloudpickle",
    pyfunc_predict_fn: str = "predict",
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    extra_files: Sequence[str | os.PathLike[str]] | None = None,
    _run_id: str | None = None,
    _artifact_path: str | None = None,
) -> ModelMetadata:
    """Saves `model` into the new folder `path` and returns its MLmodel metadata.

    - `flavor`: "sklearn" (default for scikit-learn estimators; pickled with
      `serialization_format`, "cloudpickle" or "pickle"), "pytorch" (default for a
      `torch.nn.Module`; saved whole with `torch.save` in MLflow's layout, with
      `code_paths` copied into `code/` and put on sys.path at load time, and
      `extra_files` copied into `extra_files/`) or "python_function" (default for
      anything else with `predict(model_input)` or `predict(context, model_input)`, such
      as a `trackway.models.PythonModel`; cloudpickled, with `artifacts` copied in and
      `model_config` handed to its context).
    - `input_example`: a DataFrame, dict of columns, list of records or array (or a
      torch tensor, saved as its array), saved as `input_example.json`; unless
      `signature` is given, the signature is inferred from it (and the outputs from the
      model's predictions on it).
    - `pip_requirements` replaces the pinned defaults of `requirements.txt`;
      `extra_pip_requirements` adds to them.
    - `metadata`: free-form key/values stored in the MLmodel.

    AlreadyExists when `path` exists and is not an empty folder.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"{target} already exists; save each model into a new folder")
    chosen = choose_flavor(model, flavor)
    if chosen != pt.FLAVOR and (code_paths or extra_files):
        raise InvalidArgument("code_paths and extra_files are options of the pytorch flavor")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        if chosen == sk.FLAVOR:
            written = sk.write(
                model,
                target,
                serialization_format=serialization_format,
                pyfunc_predict_fn=pyfunc_predict_fn,
            )
        elif chosen == pt.FLAVOR:
            written = pt.write(model, target, code_paths=code_paths, extra_files=extra_files)
            input_example = pt.example_array(input_example)
        else:
            written = custom.write(model, target, artifacts=artifacts, model_config=model_config)
        meta = _describe(target, written, input_example, signature, metadata)
        meta.run_id, meta.artifact_path = _run_id, _artifact_path
        lines = environment.requirements(
            written.requirements, pip_requirements, extra_pip_requirements
        )
        environment.write(target, lines)
        meta.extra["trackway_version"] = trackway.__version__
        meta.extra["model_size_bytes"] = _size(target)
        meta.save(target)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        raise
    return meta


def _describe(
    target: Path,
    written: Written,
    input_example: Any,
    signature: Signature | None,
    metadata: Mapping[str, Any] | None,
) -> ModelMetadata:
    example = examples.normalize(input_example) if input_example is not None else None
    info = examples.save(target, example) if example is not None else None
    if signature is None and example is not None:
        signature = _infer(example, written)
    return ModelMetadata(
        flavors=written.flavors,
        signature=signature,
        saved_input_example_info=info,
        metadata=dict(metadata) if metadata else None,
    )


def _infer(example: Any, written: Written) -> Signature | None:
    """The signature of the example; a model whose predictions cannot be described (or
    that fails on its own example) still saves, with a warning and unknown outputs."""
    try:
        inputs = infer_schema(example)
    except TypeError as exc:
        warnings.warn(f"no signature saved: {exc}", stacklevel=4)
        return None
    outputs = None
    if written.predict is not None:
        try:
            outputs = infer_schema(written.predict(example))
        except Exception as exc:
            warnings.warn(
                f"the signature's outputs are unknown: predicting on the input example "
                f"failed: {type(exc).__name__}: {exc}",
                stacklevel=4,
            )
    return Signature(inputs, outputs)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
