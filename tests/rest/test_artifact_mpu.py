"""MLflow's multipart artifact upload (`mpu/create`, part PUTs, `mpu/complete`, `mpu/abort`)
through a live server: with MLflow's own client, and over raw HTTP for the error cases.

The proxy's multipart path does not depend on the tracking backend, so these run on the
SQLite server only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.rest.conftest import Gateway, unique

MiB = 1024 * 1024
MPU = "mlflow-artifacts/mpu"


@pytest.fixture
def run_root(sqlite_gateway: Gateway) -> str:
    """The root-relative artifact folder of a new run, as MLflow addresses it."""
    gateway = sqlite_gateway
    exp = gateway.call("POST", "mlflow/experiments/create", {"name": unique("mpu")}).json()
    run = gateway.call("POST", "mlflow/runs/create", {"experiment_id": exp["experiment_id"]})
    return str(run.json()["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/"))


def _create(gateway: Gateway, folder: str, name: str, num_parts: int) -> dict[str, Any]:
    answer = gateway.call("POST", f"{MPU}/create/{folder}", {"path": name, "num_parts": num_parts})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _put(credential: dict[str, Any], data: bytes) -> str:
    answer = requests.put(credential["url"], data=data, headers=credential["headers"], timeout=60)
    assert answer.status_code == 200, answer.text
    return str(answer.headers["ETag"])


def _files(gateway: Gateway, folder: str) -> list[str]:
    listed = gateway.call("GET", "mlflow-artifacts/artifacts", path=folder).json()
    return [f["path"] for f in listed.get("files", [])]


def test_mlflow_logs_a_large_file_in_parts(
    mlflow_sqlite: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    # MLflow reads these when it uploads, so setting them now is in time.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MiB))
    # Watch (not replace) the client's part PUTs, to know it did not fall back to one PUT.
    sent: list[int] = []
    upload_part = HttpArtifactRepository._upload_part

    def counted(credential: Any, local_file: str, size: int, start_byte: int) -> Any:
        sent.append(credential.part_number)
        return upload_part(credential, local_file, size, start_byte)

    monkeypatch.setattr(HttpArtifactRepository, "_upload_part", staticmethod(counted))
    data = os.urandom(25 * MiB + 4321)
    source = tmp_path / "weights.bin"
    source.write_bytes(data)

    mlflow_sqlite.set_experiment(unique("mpu-client"))
    with mlflow_sqlite.start_run() as run:
        mlflow_sqlite.log_artifact(str(source), artifact_path="model")

    assert sorted(sent) == [1, 2, 3, 4, 5, 6]
    client = mlflow_sqlite.MlflowClient()
    listed = client.list_artifacts(run.info.run_id, "model")
    assert [(f.path, f.file_size) for f in listed] == [("model/weights.bin", len(data))]
    got = mlflow_sqlite.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="model/weights.bin", dst_path=str(tmp_path / "out")
    )
    assert hashlib.sha256(Path(got).read_bytes()).digest() == hashlib.sha256(data).digest()


def test_parts_come_back_with_their_etag_and_complete_atomically(
    sqlite_gateway: Gateway, run_root: str
) -> None:
    gateway = sqlite_gateway
    # MLflow's client sends its local file's path; the file's name is its last segment.
    create = _create(gateway, f"{run_root}/data", "C:\\Users\\me\\table.csv", 2)
    assert len(create["upload_id"]) == 32
    first, second = create["credentials"]
    assert first["part_number"] == 1 and second["part_number"] == 2
    assert first["url"] == (
        f"{gateway.url}/api/2.0/mlflow-artifacts/mpu/parts/{create['upload_id']}/1"
    )
    etag2 = _put(second, b"b" * 100)
    assert etag2 == f'"{hashlib.sha256(b"b" * 100).hexdigest()}"'
    etag1 = _put(first, b"a" * 50)
    # Until the completion, nothing is visible.
    assert _files(gateway, f"{run_root}/data") == []
    missing = gateway.call("GET", f"mlflow-artifacts/artifacts/{run_root}/data/table.csv")
    assert missing.status_code == 404

    parts = [
        {"part_number": 1, "etag": etag1, "url": first["url"]},
        {"part_number": 2, "etag": etag2, "url": second["url"]},
    ]
    body = {"path": "/tmp/table.csv", "upload_id": create["upload_id"], "parts": parts}
    done = gateway.call("POST", f"{MPU}/complete/{run_root}/data", body)
    assert (done.status_code, done.json()) == (200, {})
    assert _files(gateway, f"{run_root}/data") == ["table.csv"]
    got = gateway.call("GET", f"mlflow-artifacts/artifacts/{run_root}/data/table.csv")
    assert got.content == b"a" * 50 + b"b" * 100


def test_wrong_etag_or_missing_part_is_invalid(sqlite_gateway: Gateway, run_root: str) -> None:
    gateway = sqlite_gateway
    create = _create(gateway, run_root, "f.bin", 2)
    first, second = create["credentials"]
    etag1 = _put(first, b"one")

    def complete(parts: list[dict[str, Any]]) -> requests.Response:
        body = {"path": "f.bin", "upload_id": create["upload_id"], "parts": parts}
        return gateway.call("POST", f"{MPU}/complete/{run_root}", body)

    never_sent = complete([{"part_number": 1, "etag": etag1}, {"part_number": 2, "etag": etag1}])
    not_listed = complete([{"part_number": 1, "etag": etag1}])
    etag2 = _put(second, b"two")
    wrong = complete([{"part_number": 1, "etag": etag2}, {"part_number": 2, "etag": etag2}])
    out_of_range = complete([{"part_number": 1, "etag": etag1}, {"part_number": 3, "etag": etag2}])
    no_parts = gateway.call(
        "POST", f"{MPU}/complete/{run_root}", {"path": "f.bin", "upload_id": create["upload_id"]}
    )
    for answer, said in [
        (never_sent, "part 2 was never uploaded"),
        (not_listed, "are not listed"),
        (wrong, "is not the ETag of part 1"),
        (out_of_range, "parts 1 to 2"),
        (no_parts, "Missing value for required parameter 'parts'"),
    ]:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert said in answer.json()["message"]
    assert _files(gateway, run_root) == []
    right = complete([{"part_number": 2, "etag": etag2}, {"part_number": 1, "etag": etag1}])
    assert right.status_code == 200, right.text
    assert gateway.call("GET", f"mlflow-artifacts/artifacts/{run_root}/f.bin").content == (
        b"onetwo"
    )


def test_abort_leaves_nothing_and_may_repeat(sqlite_gateway: Gateway, run_root: str) -> None:
    gateway = sqlite_gateway
    create = _create(gateway, run_root, "big.bin", 2)
    first, second = create["credentials"]
    _put(first, os.urandom(MiB))
    body = {"path": "big.bin", "upload_id": create["upload_id"]}
    for _ in range(2):
        aborted = gateway.call("POST", f"{MPU}/abort/{run_root}", body)
        assert (aborted.status_code, aborted.json()) == (200, {})
    late = requests.put(second["url"], data=b"late", timeout=30)
    assert late.status_code == 404
    assert late.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert _files(gateway, run_root) == []
    staging = Path(gateway.root.removeprefix("file://")) / ".trackway-staging" / "multipart"
    assert not (staging / create["upload_id"]).exists()


def test_unknown_upload_ids_do_not_exist(sqlite_gateway: Gateway, run_root: str) -> None:
    gateway = sqlite_gateway
    unknown = "0" * 32
    answers = [
        requests.put(f"{gateway.url}/api/2.0/{MPU}/parts/{unknown}/1", data=b"x", timeout=30),
        requests.put(f"{gateway.url}/api/2.0/{MPU}/parts/nonsense/1", data=b"x", timeout=30),
        gateway.call(
            "POST",
            f"{MPU}/complete/{run_root}",
            {"path": "f.bin", "upload_id": unknown, "parts": []},
        ),
        gateway.call("POST", f"{MPU}/abort/{run_root}", {"path": "f.bin", "upload_id": "bad"}),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # Aborting an upload that is already gone is not an error: the client may retry it.
    gone = gateway.call("POST", f"{MPU}/abort/{run_root}", {"path": "f.bin", "upload_id": unknown})
    assert gone.status_code == 200
    create = _create(gateway, run_root, "f.bin", 1)
    bad_part = requests.put(f"{create['credentials'][0]['url'][:-1]}7", data=b"x", timeout=30)
    assert bad_part.status_code == 400
    assert bad_part.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("{root}/%2E%2E/%2E%2E/escape", "f.bin"),
        ("{root}/..%2F..%2Fescape", "f.bin"),
        ("{root}", ".."),
        ("{root}", "dir/.."),
        ("{root}", ""),
    ],
)
def test_path_traversal_is_refused(
    sqlite_gateway: Gateway, run_root: str, folder: str, name: str
) -> None:
    url = f"{sqlite_gateway.url}/api/2.0/{MPU}/create/{folder.format(root=run_root)}"
    answer = requests.post(url, json={"path": name, "num_parts": 1}, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_part_urls_follow_the_host_the_client_used(sqlite_gateway: Gateway, run_root: str) -> None:
    url = f"{sqlite_gateway.url}/api/2.0/{MPU}/create/{run_root}"
    body: dict[str, Any] = {"path": "f.bin", "num_parts": 1}
    named = requests.post(url, json=body, headers={"Host": "tracking.example:8443"}, timeout=30)
    assert named.json()["credentials"][0]["url"].startswith(
        "http://tracking.example:8443/api/2.0/mlflow-artifacts/mpu/parts/"
    )
    for bad in ("evil.example/x?", "user@evil.example", "other.example"):
        refused = requests.post(url, json=body, headers={"Host": bad}, timeout=30)
        assert refused.status_code in (400, 403), refused.text
    too_many = requests.post(url, json={"path": "f.bin", "num_parts": 10_001}, timeout=30)
    assert too_many.status_code == 400
    assert too_many.json()["error_code"] == "INVALID_PARAMETER_VALUE"
