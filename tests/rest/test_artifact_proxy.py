"""The artifact proxy over raw HTTP: streaming, headers, scopes, multipart fallback."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.rest.conftest import Gateway, unique


@pytest.fixture
def run_root(gateway: Gateway) -> str:
    """The root-relative artifact folder of a new run, as MLflow addresses it."""
    exp = gateway.call("POST", "mlflow/experiments/create", {"name": unique("proxy")}).json()
    run = gateway.call("POST", "mlflow/runs/create", {"experiment_id": exp["experiment_id"]})
    uri = run.json()["run"]["info"]["artifact_uri"]
    assert uri.startswith("mlflow-artifacts:/")
    return str(uri.removeprefix("mlflow-artifacts:/"))


def test_put_streams_and_get_returns_length(gateway: Gateway, run_root: str) -> None:
    import requests

    chunk = os.urandom(1 << 16)

    def body() -> Iterator[bytes]:  # chunked transfer: no Content-Length
        for _ in range(80):
            yield chunk

    url = f"{gateway.url}/api/2.0/mlflow-artifacts/artifacts/{run_root}/big/blob.bin"
    assert requests.put(url, data=body(), timeout=60).json() == {}
    got = requests.get(url, timeout=60)
    assert got.status_code == 200
    assert int(got.headers["content-length"]) == 80 << 16
    assert got.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(chunk * 80).digest()
    html = f"{gateway.url}/api/2.0/mlflow-artifacts/artifacts/{run_root}/page.html"
    requests.put(html, data=b"<script>alert(1)</script>", timeout=30)
    assert requests.get(html, timeout=30).headers["content-type"].startswith("text/plain")
    listed = gateway.call("GET", "mlflow-artifacts/artifacts", path=f"{run_root}/big").json()
    assert listed == {"files": [{"path": "blob.bin", "is_dir": False, "file_size": 80 << 16}]}
    assert gateway.call("DELETE", f"mlflow-artifacts/artifacts/{run_root}/big").json() == {}
    assert requests.get(url, timeout=30).status_code == 404


def test_short_body_stores_nothing(gateway: Gateway, run_root: str) -> None:
    import socket

    host, port = gateway.url.removeprefix("http://").split(":")
    path = f"/api/2.0/mlflow-artifacts/artifacts/{run_root}/cut.bin"
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode())
        sock.sendall(b"x" * 10)
    missing = gateway.call("GET", f"mlflow-artifacts/artifacts/{run_root}/cut.bin")
    assert missing.status_code == 404


def test_deleted_run_refuses_uploads(gateway: Gateway, run_root: str) -> None:
    import requests

    run_id = run_root.split("/")[1]
    gateway.call("POST", "mlflow/runs/delete", {"run_id": run_id})
    url = f"{gateway.url}/api/2.0/mlflow-artifacts/artifacts/{run_root}/x.txt"
    answer = requests.put(url, data=b"x", timeout=30)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_small_multipart_parts_reassemble_in_order(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "1024")
    exp = client.create_experiment(unique("mpu"))
    run_id = client.create_run(exp).info.run_id
    body = bytes(range(256)) * 20
    (tmp_path / "f.bin").write_bytes(body)
    client.log_artifact(run_id, str(tmp_path / "f.bin"))
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id)] == [("f.bin", len(body))]
    got = Path(client.download_artifacts(run_id, "f.bin", str(tmp_path / "out")))
    assert got.read_bytes() == body


def test_ajax_prefix_serves_the_same_api(gateway: Gateway) -> None:
    import requests

    name = unique("ajax")
    made = requests.post(
        f"{gateway.url}/ajax-api/2.0/mlflow/experiments/create", json={"name": name}, timeout=30
    ).json()
    got = gateway.call("GET", "mlflow/experiments/get-by-name", experiment_name=name).json()
    assert got["experiment"]["experiment_id"] == made["experiment_id"]
