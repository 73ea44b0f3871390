"""Clients against a server with `--auth token`: MLflow's Python client with
MLFLOW_TRACKING_TOKEN, the Trackway SDK with TRACKWAY_TOKEN, and the Java client's
bearer token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.auth.conftest import Secured
from tests.support.required import unavailable
from trackway.auth.errors import PermissionDenied, Unauthenticated
from trackway.client import TrackwayClient

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "clients" / "java"

MLFLOW_SCRIPT = textwrap.dedent(
    """
    import sys, mlflow
    from mlflow import MlflowClient
    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.set_experiment("from-mlflow")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("loss", 0.25, step=3)
        mlflow.log_text("hello", "notes/hello.txt")
    client = MlflowClient()
    client.create_registered_model("mlflow-model")
    client.create_model_version("mlflow-model", f"runs:/{run.info.run_id}/notes", run.info.run_id)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {"loss": 0.25}, got.data.metrics
    assert client.download_artifacts(run.info.run_id, "notes/hello.txt")
    print(run.info.run_id)
    """
)


def _mlflow(
    script: str, url: str, token: str | None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKWAY_"))}
    if token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = token
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    return subprocess.run(
        [sys.executable, "-c", script, url],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def test_mlflows_client_works_with_mlflow_tracking_token(
    secured: Secured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = secured.user("mlflow-user")
    done = _mlflow(MLFLOW_SCRIPT, secured.http_url, token, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.strip().splitlines()[-1]
    # What MLflow's client created belongs to its user: others may not read it.
    uri = f"grpc://{secured.target}"
    monkeypatch.setenv("TRACKWAY_TOKEN", secured.user("other"))
    with TrackwayClient(uri, retry_seconds=0) as client, pytest.raises(PermissionDenied):
        client.get_run(run_id)
    monkeypatch.setenv("TRACKWAY_TOKEN", token)
    with TrackwayClient(uri, retry_seconds=0) as client:
        assert client.get_run(run_id).info.run_id == run_id


def test_mlflows_client_without_a_token_is_refused(secured: Secured, tmp_path: Path) -> None:
    done = _mlflow(MLFLOW_SCRIPT, secured.http_url, None, tmp_path)
    assert done.returncode != 0
    assert "401" in done.stderr or "UNAUTHENTICATED" in done.stderr, done.stderr[-2000:]


def test_the_sdk_sends_trackway_token(secured: Secured, monkeypatch: pytest.MonkeyPatch) -> None:
    token = secured.user("sdk-user")
    uri = f"grpc://{secured.target}"
    monkeypatch.delenv("TRACKWAY_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("TRACKWAY_TOKEN", raising=False)
    with TrackwayClient(uri, retry_seconds=0) as client, pytest.raises(Unauthenticated):
        client.create_experiment("nope")
    monkeypatch.setenv("TRACKWAY_TOKEN", token)
    with TrackwayClient(uri, retry_seconds=0) as client:
        eid = client.create_experiment("sdk")
        run = client.create_run(eid)
        for step in range(100):
            client.logger.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), step=step)
        client.flush()
        history = client.get_metric_history(run.info.run_id, "loss")
        assert len(history) == 100
        assert [e.name for e in client.search_experiments()] == ["sdk"]


def _need_java() -> None:
    missing = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]
    if missing:
        unavailable(f"{', '.join(missing)} not installed: run scripts/install-java.sh")


def _java_classpath(tmp_path: Path) -> str:
    def run(cmd: list[str]) -> None:
        done = subprocess.run(cmd, cwd=JAVA, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run(["mvn", "-q", "-B", "compile"])
    out = tmp_path / "classpath.txt"
    run(["mvn", "-q", "-B", "dependency:build-classpath", f"-Dmdep.outputFile={out}",
         "-DincludeScope=runtime"])  # fmt: skip
    return f"{JAVA / 'target' / 'classes'}:{out.read_text().strip()}"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_java_clients_bearer_token_works(secured: Secured, tmp_path: Path) -> None:
    _need_java()
    classpath = _java_classpath(tmp_path)
    probe = Path(__file__).parent / "java" / "BearerProbe.java"
    token = secured.user("java-user")

    def java(*args: str) -> str:
        done = subprocess.run(
            ["java", "-cp", classpath, str(probe), secured.target, *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert java("java-experiment") == "unauthenticated"
    assert java("java-experiment", "tw_wrong") == "unauthenticated"
    written = java("java-experiment", token)
    assert written.startswith("run ")
    # Another user may not write into the Java user's experiment.
    assert java("java-experiment", secured.user("intruder")) == "denied"
