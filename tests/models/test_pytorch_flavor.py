"""The pytorch flavor: save/load round trips, the pyfunc wrapper, signatures, log_model
and the registry's URIs on a live server, and MLflow's pytorch format both ways with the
real `mlflow` package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from importlib import metadata
from pathlib import Path

import mlflow.models
import mlflow.pyfunc
import mlflow.pytorch
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import trackway
from trackway import models
from trackway.client import TrackwayClient
from trackway.errors import InvalidArgument
from trackway.models import pytorch as pt


class TinyNet(torch.nn.Module):
    """3 features in, 2 scores out: small enough to save in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(3, 4)
        self.out = torch.nn.Linear(4, 2)
        self.drop = torch.nn.Dropout(0.5)  # eval mode must switch it off

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(torch.relu(self.hidden(x))))


@pytest.fixture
def net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()


@pytest.fixture
def X() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(6, 3))


def _expected(net: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    was_training = net.training
    net.eval()
    with torch.no_grad():
        found = net(torch.from_numpy(X).float()).numpy()
    net.train(was_training)
    return found


def _mlmodel(folder: Path) -> dict:
    return yaml.safe_load((folder / "MLmodel").read_text())


def test_round_trip_in_mlflow_layout(tmp_path: Path, net: TinyNet, X: np.ndarray) -> None:
    net.train()
    models.save_model(net, tmp_path / "m", input_example=X[:2])  # the flavor is picked
    assert net.training  # inferring the signature left the caller's module as it was
    written = _mlmodel(tmp_path / "m")
    assert set(written["flavors"]) == {"python_function", "pytorch"}
    native = written["flavors"]["pytorch"]
    assert native["model_data"] == "data" and native["code"] is None
    assert native["pytorch_version"] == torch.__version__
    pyfunc = written["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "trackway.models.pytorch"
    assert pyfunc["data"] == "data"
    assert pyfunc["pickle_module_name"] == "mlflow.pytorch.pickle_module"
    data = tmp_path / "m" / "data"
    assert (data / "model.pth").is_file()
    assert (data / "pickle_module_info.txt").read_text() == "mlflow.pytorch.pickle_module"
    requirements = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert f"torch=={metadata.version('torch')}" in requirements
    assert json.loads(written["signature"]["inputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}
    ]
    assert json.loads(written["signature"]["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}
    ]

    loaded = models.load_model(str(tmp_path / "m"))
    # float64 data feeds the float32 model, in eval mode (dropout off), as numpy.
    predicted = loaded.predict(X)
    assert isinstance(predicted, np.ndarray)
    np.testing.assert_allclose(predicted, _expected(net, X), rtol=1e-6)
    np.testing.assert_array_equal(loaded.input_example, X[:2])
    module = models.load_model(str(tmp_path / "m"), flavor="pytorch")
    assert isinstance(module, TinyNet) and not module.training
    for name, tensor in net.state_dict().items():
        torch.testing.assert_close(module.state_dict()[name], tensor)


def test_pyfunc_takes_frames_arrays_and_tensors(
    tmp_path: Path, net: TinyNet, X: np.ndarray
) -> None:
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=[10, 11, 12, 13, 14, 15])
    pt.save_model(net, tmp_path / "m", input_example=frame.head(2))
    signature = _mlmodel(tmp_path / "m")["signature"]
    assert [c["name"] for c in json.loads(signature["inputs"])] == ["a", "b", "c"]
    loaded = models.load_model(str(tmp_path / "m"))
    expected = _expected(net, X)

    out = loaded.predict(frame)  # a DataFrame in gives a DataFrame with the same index
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(frame.index)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-6)
    checked = models.validate_input(loaded.metadata.signature, frame[["c", "b", "a"]])
    np.testing.assert_allclose(loaded.predict(checked).to_numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(torch.from_numpy(X).float()), expected, rtol=1e-6)
    with pytest.raises(InvalidArgument, match="not list"):
        loaded.predict(X.tolist())
    with pytest.raises(InvalidArgument, match="dtype object"):
        loaded.predict(np.array([["x", 1, 2]], dtype=object))


def test_a_tensor_example_gives_the_signature(tmp_path: Path, net: TinyNet) -> None:
    example = torch.rand(4, 3, requires_grad=True)
    info = models.save_model(net, tmp_path / "m", input_example=example)
    assert info.signature.inputs[0].type == "float32"
    assert info.signature.inputs[0].shape == (-1, 3)
    assert info.signature.outputs[0].shape == (-1, 2)
    saved = json.loads((tmp_path / "m" / "input_example.json").read_text())
    np.testing.assert_allclose(saved, example.detach().numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
@pytest.mark.filterwarnings("ignore:'torch.load' received a zip file:UserWarning")
def test_a_torchscript_module_round_trips(tmp_path: Path, net: TinyNet, X: np.ndarray) -> None:
    scripted = torch.jit.script(net.eval())
    models.save_model(scripted, tmp_path / "m")
    loaded = models.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict(X), _expected(net, X), rtol=1e-6)
    assert isinstance(
        models.load_model(str(tmp_path / "m"), flavor="pytorch"), torch.jit.ScriptModule
    )


def test_code_paths_and_extra_files(tmp_path: Path) -> None:
    """A module whose class lives in the user's own file loads in a fresh interpreter
    from the copy saved with the model."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "scaler_net.py").write_text(
        textwrap.dedent(
            """
            import torch

            class ScalerNet(torch.nn.Module):
                def __init__(self, factor):
                    super().__init__()
                    self.factor = torch.nn.Parameter(torch.tensor(float(factor)))

                def forward(self, x):
                    return x * self.factor
            """
        )
    )
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("alpha beta\n")
    sys.path.insert(0, str(src))
    try:
        import scaler_net

        models.save_model(
            scaler_net.ScalerNet(3),
            tmp_path / "m",
            code_paths=[src / "scaler_net.py"],
            extra_files=[vocab],
        )
    finally:
        sys.path.remove(str(src))
        sys.modules.pop("scaler_net", None)
    native = _mlmodel(tmp_path / "m")["flavors"]["pytorch"]
    assert native["code"] == "code"
    assert native["extra_files"] == [{"path": "extra_files/vocab.txt"}]
    assert (tmp_path / "m" / "extra_files" / "vocab.txt").read_text() == "alpha beta\n"
    script = (
        "import sys, numpy as np\n"
        "from trackway import models\n"
        "model = models.load_model(sys.argv[1])\n"
        "print(model.predict(np.array([[1.0, 2.0]], dtype=np.float32)).tolist())\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[[3.0, 6.0]]"
    with pytest.raises(InvalidArgument, match="options of the pytorch flavor"):
        models.save_model(
            models.PythonModel(), tmp_path / "other", code_paths=[src / "scaler_net.py"]
        )


def test_model_data_outside_the_model_is_refused(tmp_path: Path, net: TinyNet) -> None:
    models.save_model(net, tmp_path / "m")
    written = _mlmodel(tmp_path / "m")
    written["flavors"]["pytorch"]["model_data"] = "../elsewhere"
    (tmp_path / "m" / "MLmodel").write_text(yaml.safe_dump(written))
    for flavor in ("pytorch", "python_function"):
        with pytest.raises(InvalidArgument, match="outside the model's folder"):
            models.load_model(str(tmp_path / "m"), flavor=flavor)


def test_log_model_and_load_through_the_registry(
    tracked: TrackwayClient, net: TinyNet, X: np.ndarray
) -> None:
    name = f"torchnet-{uuid.uuid4().hex[:6]}"
    with trackway.start_run() as run:
        info = pt.log_model(net, "net", input_example=X[:2], registered_model_name=name)
    assert info.model_uri == f"runs:/{run.run_id}/net"
    assert "pytorch" in info.flavors and info.registered_model_version.version == 1
    files = {f.path for f in tracked.list_artifacts(run.run_id, "net/data")}
    assert {"net/data/model.pth", "net/data/pickle_module_info.txt"} <= files
    tracked.set_registered_model_alias(name, "champion", 1)
    expected = _expected(net, X)
    for uri in (info.model_uri, f"models:/{name}@champion", f"models:/{name}/1"):
        np.testing.assert_allclose(models.load_model(uri).predict(X), expected, rtol=1e-6)
    module = pt.load_model(f"models:/{name}@champion")
    assert isinstance(module, TinyNet) and not module.training


def test_mlflow_loads_our_models(
    tmp_path: Path, net: TinyNet, X: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # MLflow's opt-in
    models.save_model(net, tmp_path / "m", input_example=X[:2])
    native = mlflow.pytorch.load_model(str(tmp_path / "m"))
    assert isinstance(native, TinyNet) and not native.training
    with torch.no_grad():
        np.testing.assert_allclose(
            native(torch.from_numpy(X).float()).numpy(), _expected(net, X), rtol=1e-6
        )
    # MLflow checks our signature (float64), then calls our loader module.
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(pyfunc.predict(X), _expected(net, X), rtol=1e-6)
    meta = mlflow.models.Model.load(str(tmp_path / "m"))
    np.testing.assert_array_equal(meta.load_input_example(str(tmp_path / "m")), X[:2])


@pytest.mark.parametrize("serialization_format", ["pickle", "pt2"])
def test_we_load_mlflow_models(
    tmp_path: Path,
    net: TinyNet,
    X: np.ndarray,
    serialization_format: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    net.eval()  # torch.export traces the module as it is
    mlflow.pytorch.save_model(
        net,
        str(tmp_path / "m"),
        serialization_format=serialization_format,
        input_example=X[:3].astype(np.float32),
        pip_requirements=["torch"],  # skips MLflow's slow requirement inference
    )
    loaded = models.load_model(str(tmp_path / "m"))
    assert loaded.metadata.flavors["python_function"]["loader_module"] == "mlflow.pytorch"
    assert loaded.metadata.signature.inputs[0].type == "float32"
    checked = models.validate_input(loaded.metadata.signature, X.astype(np.float32))
    np.testing.assert_allclose(loaded.predict(checked), _expected(net, X), rtol=1e-5)
    frame = pd.DataFrame(X)
    np.testing.assert_allclose(loaded.predict(frame).to_numpy(), _expected(net, X), rtol=1e-5)
    module = models.load_model(str(tmp_path / "m"), flavor="pytorch")
    assert isinstance(module, torch.nn.Module)
    if serialization_format == "pickle":
        assert isinstance(module, TinyNet)


def test_importing_trackway_models_does_not_import_torch() -> None:
    """The flavor registry looks at torch only once the caller has imported it."""
    script = (
        "import sys\n"
        "import numpy as np\n"
        "from trackway import models\n"
        "from trackway.models import pytorch\n"
        "assert not pytorch.is_module(object())\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert found.returncode == 0, found.stderr
