"""Artifacts and inputs through the fluent API: files, text, dicts, figures, images."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
import yaml

import trackway
from tests.support import required
from trackway.client import Dataset, TrackwayClient
from trackway.fluent.images import encode_png


def _read(fluent: TrackwayClient, run_id: str, path: str, tmp_path: Path) -> bytes:
    return fluent.download_artifacts(run_id, path, tmp_path / "dl" / path).read_bytes()


def test_files_and_folders(fluent: TrackwayClient, tmp_path: Path) -> None:
    one = tmp_path / "one.txt"
    one.write_text("1")
    folder = tmp_path / "folder"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "two.txt").write_text("2")
    with trackway.start_run() as run:
        trackway.log_artifact(one)
        trackway.log_artifact(one, "nested/dir")
        trackway.log_artifacts(folder, "tree")
        listed = {f.path for f in trackway.list_artifacts()}
        assert listed == {"one.txt", "nested", "tree"}
        assert trackway.get_artifact_uri("tree").endswith("/artifacts/tree")
        out = trackway.download_artifacts("tree", tmp_path / "out")
    assert (out / "deep" / "two.txt").read_text() == "2"
    assert _read(fluent, run.run_id, "nested/dir/one.txt", tmp_path) == b"1"


def test_text_and_dicts(fluent: TrackwayClient, tmp_path: Path) -> None:
    with trackway.start_run() as run:
        trackway.log_text("héllo", "notes/readme.md")
        trackway.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        trackway.log_dict({"a": 1}, "config.yaml")
    assert _read(fluent, run.run_id, "notes/readme.md", tmp_path).decode() == "héllo"
    assert json.loads(_read(fluent, run.run_id, "config.json", tmp_path)) == {"a": 1, "b": [1, 2]}
    assert yaml.safe_load(_read(fluent, run.run_id, "config.yaml", tmp_path)) == {"a": 1}


def test_figure(fluent: TrackwayClient, tmp_path: Path) -> None:
    matplotlib = required.module("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with trackway.start_run() as run:
        trackway.log_figure(fig, "plots/line.png")
        with pytest.raises(TypeError):
            trackway.log_figure(object(), "plots/none.png")
    plt.close(fig)
    assert _read(fluent, run.run_id, "plots/line.png", tmp_path).startswith(b"\x89PNG")


def test_images(fluent: TrackwayClient, tmp_path: Path) -> None:
    np = required.module("numpy")
    image = required.module("PIL.Image")
    gradient = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    with trackway.start_run() as run:
        trackway.log_image(gradient, "img/gray.png")
        trackway.log_image(np.zeros((2, 2, 3), dtype=np.uint8), "img/rgb.png")
        trackway.log_image(image.new("RGB", (5, 5), "red"), "img/pil.png")
        stepped = trackway.log_image(np.ones((2, 2)), key="masks", step=3)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            trackway.log_image(gradient * 2, "img/bad.png")
        with pytest.raises(TypeError):
            trackway.log_image("not an image", "img/bad.png")
    assert stepped.startswith("images/masks/step_3_")
    got = image.open(fluent.download_artifacts(run.run_id, "img/gray.png", tmp_path / "g.png"))
    assert got.size == (4, 3)
    assert np.asarray(got)[2, 3] == 255


def test_png_encoder_without_pillow() -> None:
    np = required.module("numpy")
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = encode_png(pixels)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (3, 2, 8, 6)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_len])
    assert raw == b"\x00" + pixels[0].tobytes() + b"\x00" + pixels[1].tobytes()


def test_log_input(fluent: TrackwayClient) -> None:
    pd = required.module("pandas")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    described = trackway.dataset_from_pandas(frame, source="s3://bucket/train.csv", name="train")
    with trackway.start_run() as run:
        trackway.log_input(Dataset("mnist", "d1g3st", source="s3://mnist"), context="training")
        trackway.log_input(frame, context="eval")
        with pytest.raises(TypeError):
            trackway.log_input([1, 2, 3])
    inputs = fluent.get_run(run.run_id).inputs
    assert {i.dataset.name for i in inputs} == {"mnist", "dataset"}
    assert {i.tags["mlflow.data.context"] for i in inputs} == {"training", "eval"}
    assert len(described.digest) == 8
    assert json.loads(described.schema)["columns"][0] == {"name": "x", "type": "int64"}
    assert json.loads(described.profile) == {"num_rows": 3, "num_elements": 6}
