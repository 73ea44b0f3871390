"""Fixtures of the serving tests: a live `trackway server` with a registered scikit-learn
model, and `trackway models serve` as a real subprocess on a free port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from tests.support.procs import ServerProcess, free_port

REPO = Path(__file__).resolve().parents[2]
MODEL_NAME = "iris-tree"
TRACKWAY_ENV = (
    "TRACKWAY_TRACKING_URI",
    "TRACKWAY_RUN_ID",
    "TRACKWAY_EXPERIMENT_ID",
    "TRACKWAY_EXPERIMENT_NAME",
)


@dataclass
class Registered:
    """What the tests score against: the live server, the model's URIs, and data."""

    tracking_uri: str
    run_id: str
    local_path: Path
    moody_uri: str
    features: pd.DataFrame
    expected: list[int]


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registered]:
    import sklearn.datasets
    from sklearn.tree import DecisionTreeClassifier

    import trackway
    from tests.serving.scoring_models import Moody
    from trackway.client import TrackwayClient
    from trackway.fluent import state
    from trackway.models import log_model, save_model

    tmp = tmp_path_factory.mktemp("serving")
    server = ServerProcess(
        f"sqlite:///{tmp / 'serving.db'}", (tmp / "artifacts").as_uri(), tmp / "server.log"
    )
    iris = sklearn.datasets.load_iris(as_frame=True)
    features = iris.data.set_axis(
        ["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1
    )
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(features, iris.target)
    sample = features.iloc[[0, 60, 120, 149]]
    uri = f"grpc://{server.target}"
    with pytest.MonkeyPatch.context() as patch:
        for name in TRACKWAY_ENV:
            patch.delenv(name, raising=False)
        state.reset()
        trackway.set_tracking_uri(uri)
        trackway.set_experiment("serving")
        with trackway.start_run() as run:
            log_model(tree, name="model", input_example=features[:5],
                      registered_model_name=MODEL_NAME)  # fmt: skip
            moody = log_model(Moody(), name="moody")
        state.reset()
    with TrackwayClient(uri) as client:
        client.set_registered_model_alias(MODEL_NAME, "champion", 1)
    local = tmp / "local-model"
    save_model(tree, local, input_example=features[:5])
    try:
        yield Registered(
            tracking_uri=uri,
            run_id=run.run_id,
            local_path=local,
            moody_uri=moody.model_uri,
            features=sample,
            expected=[int(v) for v in tree.predict(sample)],
        )
    finally:
        server.close()


class Scoring:
    """`trackway models serve` in a child process."""

    def __init__(self, model_uri: str, tracking_uri: str, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in TRACKWAY_ENV}
        # The server process unpickles the custom test model: it imports tests.serving.
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trackway.cli",
                "models",
                "serve",
                "-m",
                model_uri,
                "--port",
                str(self.port),
                "--tracking-uri",
                tracking_uri,
                "--json",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        """The JSON line the server prints once it listens (the model is loaded by then)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:  # the process ended
                _, err = self.proc.communicate(timeout=10)
                raise AssertionError(f"serve exited {self.proc.returncode}: {err}")
            text += line
            try:
                return dict(json.loads(text))
            except json.JSONDecodeError:
                continue
        raise TimeoutError("the scoring server did not start")

    def post(self, body: Any, content_type: str = "application/json") -> requests.Response:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return requests.post(
            f"{self.url}/invocations",
            data=data,
            headers={"Content-Type": content_type},
            timeout=60,
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=30)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def champion(registered: Registered) -> Iterator[Scoring]:
    scoring = Scoring(f"models:/{MODEL_NAME}@champion", registered.tracking_uri)
    scoring.wait_ready()
    yield scoring
    scoring.stop()


def rows(frame: pd.DataFrame) -> list[list[float]]:
    return np.asarray(frame, dtype=float).tolist()
