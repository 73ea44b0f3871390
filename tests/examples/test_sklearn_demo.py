"""Issue 8's acceptance flow, end to end with real processes, as a user would type it:

    trackway server ...                                        (ServerProcess)
    trackway run examples/sklearn-demo -P max_depth=5 --env-manager local
    trackway models register runs:/<run id>/model --name sklearn-demo
    trackway models alias sklearn-demo champion 1
    trackway models serve -m models:/sklearn-demo@champion --port <free>
    curl .../invocations -d '{"dataframe_split": ...}'

The project runs with `--env-manager local` so that the test needs no network (the
virtualenv manager would pip-install the example's python_env.yaml).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import ServerProcess, free_port
from tests.support.required import unavailable
from trackway.client import Run, TrackwayClient
from trackway.models import get_model_info, load_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/sklearn-demo"  # relative to REPO, as in the README's commands
MODEL_NAME = "sklearn-demo"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METRICS = ("accuracy", "precision", "recall", "f1")


def _curl() -> str:
    found = shutil.which("curl")
    if found:
        return found
    unavailable(
        "curl is not installed: the sklearn-demo acceptance test scores the served model "
        "with the real curl (apt-get install -y curl)"
    )


def _trackway() -> list[str]:
    """The `trackway` console script of this environment, as a user runs it."""
    script = Path(sys.executable).with_name("trackway")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "trackway.cli"]


def _env(tracking_uri: str) -> dict[str, str]:
    """Ours, minus any run or experiment inherited from outside, pointed at the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    env.update({"TRACKWAY_TRACKING_URI": tracking_uri, "PYTHONUNBUFFERED": "1"})
    return env


def _cli(tracking_uri: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*_trackway(), *args],
        capture_output=True,
        text=True,
        env=_env(tracking_uri),
        cwd=REPO,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"trackway {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


@dataclass
class Demo:
    """The live server, and the run that `trackway run` made of the example."""

    tracking_uri: str
    client: TrackwayClient
    run: Run
    output: str
    tmp: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("sklearn-demo")
    server = ServerProcess(
        f"sqlite:///{tmp / 'trackway.db'}", (tmp / "artifacts").as_uri(), tmp / "server.log"
    )
    uri = f"grpc://{server.target}"
    try:
        done = _cli(uri, "run", EXAMPLE, "-P", "max_depth=5", "--env-manager", "local", timeout=300)
        with TrackwayClient(uri) as client:
            runs = list(client.search_runs([], "", "all", 100))
            assert len(runs) == 1, [r.info.run_id for r in runs]
            yield Demo(uri, client, runs[0], done.stdout + done.stderr, tmp)
    finally:
        server.close()


def test_the_run_finished_with_its_params_metrics_plots_and_model(demo: Demo) -> None:
    run = demo.run
    run_id = run.info.run_id
    assert run.info.status == "FINISHED" and run.info.end_time, demo.output
    assert f"run {run_id} FINISHED" in demo.output
    # Logged by `trackway run` from -P and the default, and again by the script itself.
    assert run.data.params["max_depth"] == "5"
    assert run.data.params["max_leaf_nodes"] == "32"
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
    assert run.data.tags["mlflow.project.entryPoint"] == "main"
    assert set(METRICS) <= set(run.data.metrics)
    for name in METRICS:
        # A depth-5 tree on this data scores far above a coin toss on every measure.
        assert 0.8 < run.data.metrics[name] <= 1.0, (name, run.data.metrics)

    plots = {f.path: f for f in demo.client.list_artifacts(run_id, "plots")}
    assert set(plots) == {"plots/confusion_matrix.png", "plots/roc_curve.png"}
    for path in plots:
        local = demo.client.download_artifacts(run_id, path, demo.tmp / "downloads")
        _assert_png(local)

    info = get_model_info(f"runs:/{run_id}/model", client=demo.client)
    assert {"sklearn", "python_function"} <= set(info.flavors)
    assert info.run_id == run_id
    assert info.signature is not None
    assert len(info.signature.inputs) == 30 and info.signature.inputs[0].name == "mean radius"
    model_files = {f.path for f in demo.client.list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/input_example.json", "model/requirements.txt"} <= model_files


def _assert_png(path: Path) -> None:
    from PIL import Image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    with Image.open(path) as image:
        image.verify()  # reads every chunk: a truncated or corrupt file fails here
        assert image.format == "PNG" and image.width > 100 and image.height > 100


def test_the_champion_is_registered_served_and_scored_with_curl(demo: Demo) -> None:
    _curl()  # first: without curl this skips, or fails under CI=true
    run_id = demo.run.info.run_id
    registered = _cli(
        demo.tracking_uri,
        "models",
        "register",
        f"runs:/{run_id}/model",
        "--name",
        MODEL_NAME,
        "--run-id",
        run_id,
        "--json",
    )
    version = json.loads(registered.stdout)["version"]
    _cli(demo.tracking_uri, "models", "alias", MODEL_NAME, "champion", str(version))
    champion = demo.client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert champion.run_id == run_id and str(champion.version) == str(version)

    features = _sample()
    expected = load_model(f"models:/{MODEL_NAME}@champion", client=demo.client).predict(features)
    columns = [str(c) for c in features.columns]
    url = f"http://127.0.0.1:{free_port()}"
    with _serving(demo, f"models:/{MODEL_NAME}@champion", url) as serving:
        body = {"dataframe_split": {"columns": columns, "data": features.to_numpy().tolist()}}
        status, answer = _post(url, json.dumps(body), demo.tmp)
        assert status == 200, answer
        predictions = json.loads(answer)["predictions"]
        assert len(predictions) == len(features)
        assert all(p in (0, 1) for p in predictions), predictions
        assert predictions == expected.tolist()  # what the registered model itself predicts

        # A column the model needs is missing: a 400 that names it.
        rest = features.iloc[:, 1:].to_numpy().tolist()
        wrong = {"dataframe_split": {"columns": columns[1:], "data": rest}}
        status, answer = _post(url, json.dumps(wrong), demo.tmp)
        assert status == 400, answer
        error = json.loads(answer)
        assert error["error_code"] == "BAD_REQUEST"
        assert "missing column 'mean radius'" in error["message"], error
        # Not JSON at all: a 400 too.
        status, answer = _post(url, "{not json", demo.tmp)
        assert status == 400 and json.loads(answer)["error_code"] == "BAD_REQUEST", answer

        serving.send_signal(signal.SIGTERM)
        assert serving.wait(30) == 0  # SIGTERM drains and exits cleanly


def _sample() -> Any:
    """Ten rows of the breast-cancer data, spread over the whole set (both classes)."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).data.iloc[::57].head(10)


@contextmanager
def _serving(demo: Demo, model_uri: str, url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`trackway models serve` in a child process, once it answers /ping; its output goes
    to a log file that failures quote."""
    port = url.rsplit(":", 1)[1]
    log_path = demo.tmp / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*_trackway(), "models", "serve", "-m", model_uri, "--port", port],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(demo.tracking_uri),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_for_ping(url, proc, log_path)
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _wait_for_ping(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Polls GET /ping with curl: the port opens only once the model is loaded."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited {proc.returncode}: {log_path.read_text()}"
        if _curl_call(f"{url}/ping", log_path.parent)[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"serve did not answer /ping in 90 s: {log_path.read_text()}")


def _post(url: str, body: str, tmp: Path) -> tuple[int, str]:
    """POST /invocations with a JSON body; the status code and the answer."""
    payload = tmp / "request.json"
    payload.write_text(body)
    status, answer = _curl_call(
        f"{url}/invocations",
        tmp,
        "--header",
        "Content-Type: application/json",
        "--data-binary",
        f"@{payload}",
    )
    assert status, "curl could not reach the scoring server"
    return status, answer


def _curl_call(url: str, tmp: Path, *options: str) -> tuple[int, str]:
    """The real curl: the HTTP status (0 when nothing answered) and the body."""
    answer = tmp / "answer.txt"
    answer.unlink(missing_ok=True)
    quiet = ("--silent", "--max-time", "60", "--output", str(answer))
    done = subprocess.run(
        [_curl(), *quiet, "--write-out", "%{http_code}", *options, url],
        capture_output=True,
        text=True,
        timeout=90,
    )
    status = int(done.stdout or 0)
    return status, answer.read_text() if answer.exists() else ""
