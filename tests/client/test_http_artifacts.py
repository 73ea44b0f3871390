"""TrackwayClient's artifact methods over an http:// tracking URI: the server's PUT and
GET byte routes instead of the streaming RPCs, with the same results as over gRPC."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import server_config
from trackway.artifacts import client as transfer
from trackway.artifacts import http_transfer
from trackway.client import TrackwayClient
from trackway.errors import DataLoss, InvalidArgument, NotFound
from trackway.server.app import RunningServer, create_server

MIB = 1 << 20


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("http-artifacts")
    config = server_config(f"sqlite:///{root / 'trackway.db'}", (root / "artifacts").as_uri())
    server = create_server(dataclasses.replace(config, http_port=0))
    yield server
    server.stop(grace=1.0)


@pytest.fixture
def http(running: RunningServer) -> Iterator[TrackwayClient]:
    with TrackwayClient(f"http://127.0.0.1:{running.http_port}", retry_seconds=2) as c:
        yield c


@pytest.fixture
def grpc_client(running: RunningServer) -> Iterator[TrackwayClient]:
    with TrackwayClient(f"grpc://127.0.0.1:{running.port}", retry_seconds=2) as c:
        yield c


@pytest.fixture
def run_id(http: TrackwayClient) -> str:
    eid = http.create_experiment(f"http-art-{uuid.uuid4().hex[:8]}")
    return http.create_run(eid).info.run_id


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "empty.bin").write_bytes(b"")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    (src / "sub" / "deeper" / "c 1 & 100% ünï+.txt").write_text("needs quoting")
    return src


def test_file_and_folder_round_trip(http: TrackwayClient, run_id: str, tmp_path: Path) -> None:
    single = tmp_path / "single.json"
    single.write_text('{"a": 1}')
    src = _folder(tmp_path)

    info = http.log_artifact(run_id, single, "configs")
    assert (info.path, info.size, info.is_dir) == ("configs/single.json", 8, False)
    stored = http.log_artifacts(run_id, src, "data")
    assert [f.path for f in stored] == [f"data/{rel}" for rel in sorted(_tree(src))]
    assert sorted((f.path, f.is_dir) for f in http.list_artifacts(run_id)) == [
        ("configs", True),
        ("data", True),
    ]
    assert sorted(f.path for f in http.list_artifacts(run_id, "data/sub")) == [
        "data/sub/b.bin",
        "data/sub/deeper",
    ]
    assert http.stat_artifact(run_id, "data/sub/deeper/c 1 & 100% ünï+.txt").size == 13

    one = http.download_artifacts(run_id, "configs/single.json", tmp_path / "one.json")
    assert one.read_bytes() == single.read_bytes()
    out = http.download_artifacts(run_id, "data", tmp_path / "out")
    assert _tree(out) == _tree(src)
    whole = http.download_artifacts(run_id, "", tmp_path / "whole")
    assert _tree(whole / "data") == _tree(src)
    assert not list(tmp_path.rglob("*.part"))


def test_random_8_mib_round_trips(http: TrackwayClient, run_id: str, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 * MIB))
    assert http.upload_artifact(run_id, big, "model/big.bin").size == 8 * MIB
    got = http.download_artifacts(run_id, "model/big.bin", tmp_path / "got.bin")
    assert got.read_bytes() == big.read_bytes()

    # Above the threshold the file goes through a session, PUT from its committed offset.
    where = transfer.scope(run_id=run_id)
    reply = transfer.upload_file(http.channel, where, big, "session.bin", resumable_threshold=MIB)
    assert (reply.complete, reply.file.size) == (True, 8 * MIB)
    again = http.download_artifacts(run_id, "session.bin", tmp_path / "again.bin")
    assert again.read_bytes() == big.read_bytes()


class _CutShort:
    """A download answer that ends after `limit` bytes, as a dropped connection does."""

    def __init__(self, response: Any, limit: int) -> None:
        self.status, self.headers = response.status, response.headers
        self._response, self._left = response, limit

    def read(self, size: int = -1) -> bytes:
        block = self._response.read(min(size, self._left)) if self._left > 0 else b""
        self._left -= len(block)
        return bytes(block)

    def close(self) -> None:
        self._response.close()


def test_download_resumes_a_partial_file(
    http: TrackwayClient, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * MIB + 5)
    src = tmp_path / "r.bin"
    src.write_bytes(data)
    http.upload_artifact(run_id, src, "r.bin")
    real_open = http.channel.open
    ranges: list[str] = []

    def open_once_short(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        response = real_open(method, path, *args, **kwargs)
        if "/artifacts/" not in path:
            return response  # StatArtifact
        ranges.append((kwargs.get("headers") or {}).get("Range", ""))
        return _CutShort(response, MIB) if len(ranges) == 1 else response

    monkeypatch.setattr(http.channel, "open", open_once_short)
    dest = http.download_artifacts(run_id, "r.bin", tmp_path / "r-out.bin")
    assert ranges == ["", f"bytes={MIB}-"]
    assert dest.read_bytes() == data
    # The cut answer took its connection with it; the channel still works.
    assert http.stat_artifact(run_id, "r.bin").size == len(data)


def test_path_escaping_the_root_is_refused(
    http: TrackwayClient, run_id: str, tmp_path: Path
) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    with pytest.raises(InvalidArgument):
        http.upload_artifact(run_id, f, "../x")
    with pytest.raises(InvalidArgument):
        http.upload_artifact(run_id, f, "a/../../x")
    with pytest.raises(InvalidArgument):
        http.download_artifacts(run_id, "../x", tmp_path / "out")
    assert [i.path for i in http.list_artifacts(run_id)] == []


def test_missing_run_is_not_found(http: TrackwayClient, tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    missing = uuid.uuid4().hex
    with pytest.raises(NotFound):
        http.log_artifact(missing, f)
    with pytest.raises(NotFound):
        http.log_artifacts(missing, _folder(tmp_path))
    with pytest.raises(NotFound):
        http.download_artifacts(missing, "x.txt", tmp_path / "out.txt")
    with pytest.raises(NotFound):
        http.list_artifacts(missing)


def test_experiment_scope(http: TrackwayClient, tmp_path: Path) -> None:
    eid = http.create_experiment(f"http-scope-{uuid.uuid4().hex[:8]}")
    rid = http.create_run(eid).info.run_id
    f = tmp_path / "x.txt"
    f.write_text("scoped")
    http.log_artifact(rid, f, "d")
    assert [(i.path, i.is_dir) for i in http.list_artifacts(experiment_id=eid)] == [(rid, True)]
    assert http.stat_artifact(path=f"{rid}/artifacts/d/x.txt", experiment_id=eid).size == 6
    where = transfer.scope(experiment_id=eid)
    out = transfer.download(http.channel, where, f"{rid}/artifacts/d", tmp_path / "out")
    assert (out / "x.txt").read_text() == "scoped"
    assert http.delete_artifact(path=rid, experiment_id=eid) == 1


def test_both_transports_see_the_same_artifacts(
    http: TrackwayClient, grpc_client: TrackwayClient, run_id: str, tmp_path: Path
) -> None:
    src = _folder(tmp_path)
    via_http = http.log_artifacts(run_id, src, "from-http")
    via_grpc = grpc_client.log_artifacts(run_id, src, "from-grpc")
    assert [(f.path.replace("http", "grpc", 1), f.size) for f in via_http] == [
        (f.path, f.size) for f in via_grpc
    ]
    assert sorted(f.path for f in http.list_artifacts(run_id)) == ["from-grpc", "from-http"]
    assert _tree(grpc_client.download_artifacts(run_id, "from-http", tmp_path / "g")) == _tree(src)
    assert _tree(http.download_artifacts(run_id, "from-grpc", tmp_path / "h")) == _tree(src)
    listed = [(f.path, f.size) for f in grpc_client.list_artifacts(run_id, "from-http/sub")]
    assert listed == [(f.path, f.size) for f in http.list_artifacts(run_id, "from-http/sub")]


def test_the_server_checks_the_digest(
    http: TrackwayClient, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    monkeypatch.setattr(http_transfer, "_sha256", lambda _path: "0" * 64)
    with pytest.raises(DataLoss):
        http.log_artifact(run_id, f)
    assert http.list_artifacts(run_id) == []
