"""save_model / load_model on local folders: the MLmodel file, the environment files,
the input example, and round trips of the sklearn flavor and custom python models."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import trackway
from tests.models.custom_models import AddN, Scale, Vocabulary, WithParams
from trackway import models
from trackway.errors import AlreadyExists, InvalidArgument


def _mlmodel(folder: Path) -> dict:
    return yaml.safe_load((folder / "MLmodel").read_text())


def test_sklearn_round_trip_with_a_table(tmp_path: Path, table) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    saved = models.save_model(estimator, tmp_path / "m", input_example=X.head(3))
    written = _mlmodel(tmp_path / "m")
    assert set(written["flavors"]) == {"python_function", "sklearn"}
    pyfunc = written["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "trackway.models.sklearn"
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert pyfunc["python_version"] == platform.python_version()
    flavor = written["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "cloudpickle"
    assert flavor["sklearn_version"] == metadata.version("scikit-learn")
    assert (tmp_path / "m" / flavor["pickled_model"]).is_file()
    assert written["model_uuid"] == saved.model_uuid and len(saved.model_uuid) == 32
    assert written["utc_time_created"] == saved.utc_time_created
    assert written["trackway_version"] == trackway.__version__
    # MLflow's JSON-in-YAML schema strings.
    assert json.loads(written["signature"]["inputs"]) == [
        {"type": "double", "name": "size", "required": True},
        {"type": "long", "name": "rooms", "required": True},
    ]
    assert json.loads(written["signature"]["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    ]

    loaded = models.load_model(str(tmp_path / "m"))
    assert isinstance(loaded, models.PyFuncModel)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    assert loaded.metadata.model_uuid == saved.model_uuid
    assert [c.name for c in loaded.metadata.signature.inputs] == ["size", "rooms"]
    pd.testing.assert_frame_equal(loaded.input_example, X.head(3).reset_index(drop=True))
    native = models.load_model(str(tmp_path / "m"), flavor="sklearn")
    assert isinstance(native, LogisticRegression)
    assert trackway.sklearn.load_model(str(tmp_path / "m")).get_params() == native.get_params()


def test_sklearn_round_trip_with_an_array(tmp_path: Path, matrix) -> None:
    X, y = matrix
    estimator = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    models.save_model(estimator, tmp_path / "m", input_example=X[:2], serialization_format="pickle")
    written = _mlmodel(tmp_path / "m")
    assert written["flavors"]["sklearn"]["serialization_format"] == "pickle"
    assert json.loads(written["signature"]["inputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}
    ]
    assert written["saved_input_example_info"]["type"] == "ndarray"
    assert json.loads((tmp_path / "m" / "input_example.json").read_text()) == X[:2].tolist()
    serving = json.loads((tmp_path / "m" / "serving_input_example.json").read_text())
    assert serving == {"inputs": X[:2].tolist()}
    loaded = models.load_model(f"file://{tmp_path / 'm'}")
    np.testing.assert_allclose(loaded.predict(X), estimator.predict(X))
    np.testing.assert_array_equal(loaded.input_example, X[:2])


def test_predict_fn_choice(tmp_path: Path, table) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    models.save_model(estimator, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    np.testing.assert_allclose(
        models.load_model(str(tmp_path / "m")).predict(X), estimator.predict_proba(X)
    )
    with pytest.raises(InvalidArgument, match="pyfunc_predict_fn"):
        models.save_model(estimator, tmp_path / "n", pyfunc_predict_fn="transform")
    assert not (tmp_path / "n").exists()  # a failed save leaves nothing behind


def test_environment_files_pin_what_is_installed(tmp_path: Path, table) -> None:
    X, y = table
    models.save_model(LogisticRegression().fit(X, y), tmp_path / "m")
    lines = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    for name in ("scikit-learn", "cloudpickle", "numpy", "trackway"):
        assert f"{name}=={metadata.version(name)}" in lines
    python_env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert python_env["python"] == platform.python_version()
    assert python_env["dependencies"] == ["-r requirements.txt"]
    assert f"pip=={metadata.version('pip')}" in python_env["build_dependencies"]
    conda = yaml.safe_load((tmp_path / "m" / "conda.yaml").read_text())
    assert f"python={platform.python_version()}" in conda["dependencies"]
    assert conda["dependencies"][-1] == {"pip": lines}

    models.save_model(
        LogisticRegression().fit(X, y),
        tmp_path / "own",
        pip_requirements=["scikit-learn>=1.5"],
        extra_pip_requirements=["pandas"],
    )
    own = (tmp_path / "own" / "requirements.txt").read_text().splitlines()
    assert own == ["scikit-learn>=1.5", "pandas"]


def test_custom_models_with_and_without_context(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    models.save_model(AddN(10), tmp_path / "add", input_example=frame)
    written = _mlmodel(tmp_path / "add")
    pyfunc = written["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "trackway.models.python_model"
    assert pyfunc["python_model"] == "python_model.pkl"
    assert pyfunc["cloudpickle_version"] == metadata.version("cloudpickle")
    assert [c["name"] for c in json.loads(written["signature"]["outputs"])] == ["x", "y"]
    loaded = models.load_model(str(tmp_path / "add"))
    pd.testing.assert_frame_equal(loaded.predict(frame), frame + 10)
    assert isinstance(loaded.unwrap_python_model(), AddN)

    models.save_model(Scale(3), tmp_path / "scale")  # no base class, predict(model_input)
    np.testing.assert_array_equal(
        models.load_model(str(tmp_path / "scale")).predict(np.array([1, 2])), [3, 6]
    )
    models.save_model(WithParams(), tmp_path / "params")
    loaded = models.load_model(str(tmp_path / "params"))
    assert loaded.predict(np.array([2]), params={"times": 5}).tolist() == [10]
    assert loaded.predict(np.array([2])).tolist() == [2]


def test_custom_model_artifacts_and_config(tmp_path: Path) -> None:
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("apple banana\ncherry\n")
    models.save_model(
        Vocabulary(),
        tmp_path / "m",
        artifacts={"vocab": vocab},
        model_config={"suffix": "!"},
        input_example=pd.DataFrame({"word": ["apple", "kiwi"]}),
    )
    vocab.unlink()  # the model carries its own copy
    written = _mlmodel(tmp_path / "m")["flavors"]["python_function"]
    assert written["artifacts"]["vocab"]["path"] == "artifacts/vocab/vocab.txt"
    loaded = models.load_model(str(tmp_path / "m"))
    result = loaded.predict(pd.DataFrame({"word": ["cherry", "plum"]}))
    assert result["known"].tolist() == [True, False]
    assert loaded.unwrap_python_model().suffix == "!"
    assert loaded.metadata.signature.outputs[0].type == "boolean"


def test_save_refuses_an_existing_folder_and_unknown_flavors(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(AlreadyExists):
        models.save_model(Scale(1), tmp_path / "taken")
    with pytest.raises(InvalidArgument, match="flavor 'torch'"):
        models.save_model(Scale(1), tmp_path / "a", flavor="torch")
    with pytest.raises(InvalidArgument, match="estimator"):
        models.save_model(Scale(1), tmp_path / "b", flavor="sklearn")
    with pytest.raises(InvalidArgument, match="predict"):
        models.save_model(object(), tmp_path / "c")
    models.save_model(Scale(1), tmp_path / "m")
    with pytest.raises(InvalidArgument, match="knows python_function and sklearn"):
        models.load_model(str(tmp_path / "m"), flavor="torch")
    with pytest.raises(InvalidArgument, match="no sklearn flavor"):
        models.load_model(str(tmp_path / "m"), flavor="sklearn")
    with pytest.raises(InvalidArgument, match="no MLmodel"):
        models.load_model(str(tmp_path))
    with pytest.raises(InvalidArgument, match="model URI"):
        models.load_model("s3://bucket/model")


def test_an_example_that_breaks_the_model_still_saves(tmp_path: Path, table) -> None:
    X, y = table
    estimator = LogisticRegression().fit(X, y)
    with pytest.warns(UserWarning, match="outputs are unknown"):
        models.save_model(estimator, tmp_path / "m", input_example={"other": [1.0]})
    signature = models.load_model(str(tmp_path / "m")).metadata.signature
    assert [c.name for c in signature.inputs] == ["other"] and signature.outputs is None


def test_a_given_signature_is_kept(tmp_path: Path) -> None:
    signature = models.Signature([models.ColumnSpec("double", "x")])
    models.save_model(Scale(2), tmp_path / "m", signature=signature, metadata={"team": "ml"})
    info = models.get_model_info(str(tmp_path / "m"))
    assert info.signature == signature and info.metadata == {"team": "ml"}
    assert info.saved_input_example_info is None
