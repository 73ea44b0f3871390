"""Two replicas on one database and one bucket: 8 SDK writers spread across them, model
versions created through both at once, artifacts written through one and read through
the other. Nothing is lost, nothing is doubled, no version number is handed out twice.

Resumable upload sessions and MLflow multipart uploads are staged on the disk of the
replica that opened them: the other replica answers their calls with
FAILED_PRECONDITION naming that replica (README, "Scaling out").
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import grpc
import pytest
import requests

from tests.scaleout.conftest import Launch
from trackway.client import TrackwayClient
from trackway.client.entities import Metric
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as apb_grpc

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True),
]

WRITERS = 8
STREAM_POINTS = 3_000  # per writer, through the background logger (LogStream)
BATCHES = 6  # per writer, LogBatch calls of BATCH_POINTS each
BATCH_POINTS = 50
CREATORS = 4  # per replica
VERSIONS_EACH = 6
MPU = "mlflow-artifacts/mpu"


def _writer(client: TrackwayClient, run_id: str, index: int) -> None:
    """Writer `index` streams steps [index * STREAM_POINTS, ...) of `loss` and sends its
    own `acc.<index>` points in LogBatch calls."""
    first = index * STREAM_POINTS
    for step in range(first, first + STREAM_POINTS):
        client.logger.log_metric(run_id, "loss", step * 0.5, step=step)
        if step % (STREAM_POINTS // BATCHES) == 0:
            base = (step - first) // (STREAM_POINTS // BATCHES) * BATCH_POINTS
            client.log_batch(
                run_id,
                [Metric(f"acc.{index}", float(s), base + s, 0) for s in range(BATCH_POINTS)],
            )
    client.flush(timeout=120)


def test_writers_and_registry_on_two_replicas(launch: Launch, tmp_path: Path) -> None:
    replicas = [launch("a"), launch("b")]
    clients = [TrackwayClient(f"grpc://{replicas[i % 2].target}") for i in range(WRITERS)]
    try:
        exp = clients[0].create_experiment("scale-out")
        # Two runs, each written by four writers, two through each replica.
        runs = [clients[i].create_run(exp, run_name=f"r{i}").info.run_id for i in range(2)]
        errors: list[BaseException] = []

        def guarded(target: object, *args: object) -> threading.Thread:
            def body() -> None:
                try:
                    target(*args)  # type: ignore[operator]
                except BaseException as exc:
                    errors.append(exc)

            return threading.Thread(target=body)

        threads = [guarded(_writer, clients[i], runs[i % 2], i) for i in range(WRITERS)]
        clients[0].create_registered_model("contended")
        source = f"{clients[0].get_run(runs[0]).info.artifact_uri}/model"
        created: list[int] = []

        def create_versions(client: TrackwayClient) -> None:
            for _ in range(VERSIONS_EACH):
                mv = client.create_model_version("contended", source, run_id=runs[0])
                created.append(int(mv.version))

        threads += [guarded(create_versions, clients[i % 2]) for i in range(2 * CREATORS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert not errors, errors

        # Read back through the other replica than the one that wrote.
        reader = clients[1]
        for r, run_id in enumerate(runs):
            loss = reader.get_metric_history(run_id, "loss")
            steps = sorted(p.step for p in loss)
            expected = sorted(
                s
                for i in range(r, WRITERS, 2)
                for s in range(i * STREAM_POINTS, (i + 1) * STREAM_POINTS)
            )
            assert steps == expected  # every point once: none lost, none doubled
            assert all(p.value == p.step * 0.5 for p in loss)
            for i in range(r, WRITERS, 2):
                acc = reader.get_metric_history(run_id, f"acc.{i}")
                assert sorted(p.step for p in acc) == list(range(BATCHES * BATCH_POINTS))

        total = 2 * CREATORS * VERSIONS_EACH
        assert sorted(created) == list(range(1, total + 1))  # no number twice, no gap
        listed = reader.search_model_versions("name = 'contended'", max_results=1000)
        assert sorted(int(v.version) for v in listed) == list(range(1, total + 1))
    finally:
        for client in clients:
            client.close()


def test_artifacts_written_through_one_replica_are_read_through_the_other(
    launch: Launch, tmp_path: Path
) -> None:
    a, b = launch("a"), launch("b")
    with TrackwayClient(f"grpc://{a.target}") as ca, TrackwayClient(f"grpc://{b.target}") as cb:
        exp = ca.create_experiment("artifacts")
        run_id = ca.create_run(exp).info.run_id
        blob = os.urandom(3 * 1024 * 1024 + 17)
        local = tmp_path / "blob.bin"
        local.write_bytes(blob)
        ca.upload_artifact(run_id, local, "data/blob.bin")
        assert [f.path for f in cb.list_artifacts(run_id, "data")] == ["data/blob.bin"]
        restored = cb.download_artifacts(run_id, "data/blob.bin", tmp_path / "restored")
        assert Path(restored).read_bytes() == blob
        assert cb.delete_artifact(run_id, "data") == 1
        assert ca.list_artifacts(run_id, "data") == []


def test_an_upload_session_names_the_replica_that_holds_it(launch: Launch) -> None:
    a, b = launch("a"), launch("b")
    with TrackwayClient(f"grpc://{a.target}") as client:
        run_id = client.create_run(client.create_experiment("sessions")).info.run_id
    scope = artifact_pb2.ArtifactScope(run_id=run_id)
    data = os.urandom(1000)
    with grpc.insecure_channel(a.target) as ch_a, grpc.insecure_channel(b.target) as ch_b:
        art_a, art_b = apb_grpc.ArtifactServiceStub(ch_a), apb_grpc.ArtifactServiceStub(ch_b)
        session = art_a.CreateUploadSession(
            apb.CreateUploadSessionRequest(scope=scope, path="big.bin", size=len(data))
        ).session_id

        def upload(stub: apb_grpc.ArtifactServiceStub, offset: int, chunk: bytes) -> object:
            header = apb.UploadHeader(session_id=session, offset=offset)
            return stub.Upload(
                iter([apb.UploadRequest(header=header), apb.UploadRequest(chunk=chunk)])
            )

        upload(art_a, 0, data[:400])
        for call in (
            lambda: art_b.GetUploadSession(apb.GetUploadSessionRequest(session_id=session)),
            lambda: upload(art_b, 400, data[400:]),
        ):
            with pytest.raises(grpc.RpcError) as failed:
                call()
            assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert f"another server replica ({session[:8]})" in failed.value.details()
        # The replica that holds it finishes it, and both serve the file.
        assert (
            art_a.GetUploadSession(apb.GetUploadSessionRequest(session_id=session)).committed_bytes
            == 400
        )
        assert upload(art_a, 400, data[400:]).complete  # type: ignore[attr-defined]
        for stub in (art_a, art_b):
            request = apb.DownloadRequest(scope=scope, path="big.bin")
            assert b"".join(r.chunk for r in stub.Download(request)) == data


def test_a_multipart_upload_names_the_replica_that_holds_it(launch: Launch) -> None:
    a, b = launch("a"), launch("b")
    with TrackwayClient(f"grpc://{a.target}") as client:
        run = client.create_run(client.create_experiment("multipart"))
    root = run.info.artifact_uri.split("/artifacts/", 1)[1]
    body = {"path": "f.bin", "num_parts": 1}
    created = requests.post(f"{a.http_url}/api/2.0/{MPU}/create/{root}", json=body, timeout=30)
    assert created.status_code == 200, created.text
    upload_id = created.json()["upload_id"]
    part = f"api/2.0/{MPU}/parts/{upload_id}/1"
    elsewhere = requests.put(f"{b.http_url}/{part}", data=b"x" * 10, timeout=30)
    assert elsewhere.status_code >= 400
    assert "another server replica" in elsewhere.text
    stored = requests.put(f"{a.http_url}/{part}", data=b"x" * 10, timeout=30)
    assert stored.status_code == 200, stored.text
    etag = stored.headers["ETag"]
    done = requests.post(
        f"{a.http_url}/api/2.0/{MPU}/complete/{root}",
        json={"path": "f.bin", "upload_id": upload_id, "parts": [{"part_number": 1, "etag": etag}]},
        timeout=30,
    )
    assert done.status_code == 200, done.text
    read = requests.get(f"{b.http_url}/api/2.0/mlflow-artifacts/artifacts/{root}/f.bin", timeout=30)
    assert read.status_code == 200 and read.content == b"x" * 10
