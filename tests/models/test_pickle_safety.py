"""Unpickling is an explicit act: registry reads, metadata reads and downloads never run
a model's code; only load_model does, and only on files inside the model's folder."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import pytest
import yaml

import trackway
from tests.models.custom_models import Scale, Tripwire
from trackway import models
from trackway.client import TrackwayClient
from trackway.errors import InvalidArgument


def _booby_trapped(folder: Path, marker: Path) -> Path:
    """A valid-looking model whose pickle, once loaded, creates `marker`."""
    models.save_model(Scale(1), folder)
    (folder / "python_model.pkl").write_bytes(pickle.dumps(Tripwire(str(marker))))
    return folder


def test_registry_and_metadata_reads_never_unpickle(
    tracked: TrackwayClient, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    folder = _booby_trapped(tmp_path / "m", marker)
    name = f"trap-{uuid.uuid4().hex[:6]}"
    with trackway.start_run() as run:
        trackway.log_artifacts(folder, "model")
    uri = f"runs:/{run.run_id}/model"
    trackway.register_model(uri, name)
    tracked.set_registered_model_alias(name, "champion", 1)
    tracked.resolve_model_uri(f"models:/{name}@champion")
    tracked.search_model_versions(f"name = '{name}'")
    tracked.get_model_version(name, 1)
    info = models.get_model_info(f"models:/{name}@champion")
    assert info.flavors["python_function"]["python_model"] == "python_model.pkl"
    local = models.fetch(f"models:/{name}/1")
    assert (local / "python_model.pkl").is_file()
    models.get_model_info(str(folder))
    assert not marker.exists()
    # load_model is the act of trust: it unpickles, so the model's code runs.
    with pytest.raises(InvalidArgument, match="has no predict method"):
        models.load_model(f"models:/{name}@champion")
    assert marker.exists()


@pytest.mark.parametrize("kind", ["python_model", "sklearn"])
@pytest.mark.parametrize("escape", ["../outside.pkl", "ABSOLUTE", "sub/../../outside.pkl"])
def test_model_files_must_lie_inside_the_model(tmp_path: Path, kind: str, escape: str) -> None:
    """An MLmodel that names a pickle elsewhere (say, a file an attacker planted) is
    refused before anything is read."""
    from sklearn.dummy import DummyClassifier

    marker = tmp_path / "code-ran"
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(pickle.dumps(Tripwire(str(marker))))
    target = str(outside) if escape == "ABSOLUTE" else escape
    folder = tmp_path / "m"
    if kind == "sklearn":
        models.save_model(DummyClassifier().fit([[0], [1]], [0, 1]), folder)
    else:
        models.save_model(Scale(1), folder)
    written = yaml.safe_load((folder / "MLmodel").read_text())
    if kind == "sklearn":
        written["flavors"]["sklearn"]["pickled_model"] = target
    else:
        written["flavors"]["python_function"]["python_model"] = target
    (folder / "MLmodel").write_text(yaml.safe_dump(written))
    for flavor in ["python_function", "sklearn"] if kind == "sklearn" else ["python_function"]:
        with pytest.raises(InvalidArgument, match="outside the model's folder"):
            models.load_model(str(folder), flavor=flavor)
    assert not marker.exists()


def test_unknown_serialization_formats_are_refused(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    folder = tmp_path / "m"
    models.save_model(DummyClassifier().fit([[0], [1]], [0, 1]), folder)
    written = yaml.safe_load((folder / "MLmodel").read_text())
    written["flavors"]["sklearn"]["serialization_format"] = "joblib"
    (folder / "MLmodel").write_text(yaml.safe_dump(written))
    with pytest.raises(InvalidArgument, match="serialization_format 'joblib'"):
        models.load_model(str(folder), flavor="sklearn")
