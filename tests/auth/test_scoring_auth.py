"""`trackway models serve --auth token --token-file FILE`: the scoring server's door."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.auth.scoring_model import Doubler
from tests.support.procs import free_port

REPO = Path(__file__).resolve().parents[2]
GOOD, HASHED = "tw_" + "g" * 43, "tw_" + "h" * 43


def _serve(model: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "trackway.cli", "models", "serve", "-m", str(model),
         "--port", str(free_port()), "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip


def _ready(proc: subprocess.Popen[str]) -> dict[str, str]:
    """The JSON the server prints (indented) once it listens."""
    assert proc.stdout is not None
    text = ""
    while line := proc.stdout.readline():
        text += line
        try:
            return dict(json.loads(text))
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"serve exited: {proc.communicate(timeout=30)[1]}")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trackway.models import save_model

    path = tmp_path_factory.mktemp("scoring") / "doubler"
    save_model(Doubler(), path)
    return path


@pytest.fixture
def scoring(model: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    token_file = tmp_path / "tokens"
    digest = hashlib.sha256(HASHED.encode()).hexdigest()
    token_file.write_text(f"# who may score\n{GOOD}\n\nsha256:{digest}  # CI\n")
    proc = _serve(model, "--auth", "token", "--token-file", str(token_file))
    try:
        yield _ready(proc)["url"], token_file
    finally:
        proc.terminate()
        proc.wait(30)


def _score(url: str, token: str = "") -> requests.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{url}/invocations", json={"inputs": [[1.0, 2.0]]}, headers=headers, timeout=30
    )


def test_invocations_need_a_listed_token_and_probes_do_not(scoring: tuple[str, Path]) -> None:
    url, token_file = scoring
    for probe in ("/ping", "/health", "/version"):
        assert requests.get(url + probe, timeout=30).ok
    reply = _score(url)
    assert reply.status_code == 401
    assert reply.json()["error_code"] == "UNAUTHENTICATED"
    assert _score(url, "tw_wrong").status_code == 401
    assert _score(url, GOOD).json() == {"predictions": [[2.0, 4.0]]}
    assert _score(url, HASHED).ok
    assert requests.get(f"{url}/elsewhere", timeout=30).status_code == 401
    # Taking a line out of the file revokes that token, without a restart.
    token_file.write_text(f"{GOOD}\n")
    time.sleep(1.5)
    assert _score(url, HASHED).status_code == 401
    assert _score(url, GOOD).ok


def test_token_auth_without_a_token_file_stops_at_once(model: Path) -> None:
    proc = _serve(model, "--auth", "token")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == (
        "trackway: error: --auth token needs --token-file (see `trackway models serve -h`)"
    )
