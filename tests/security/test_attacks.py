"""MLflow's published vulnerabilities, replayed through every door of a real server.

`reliability-security.md` §1 lists them by class. Each row below names the advisory whose
shape it mirrors, and is sent through every door it applies to: gRPC, MLflow's REST API
(`/api/2.0/mlflow/`), its artifact proxy (`/api/2.0/mlflow-artifacts/`), the native
HTTP/JSON API (`/v1/`) and the UI's files. Each must be refused: INVALID_ARGUMENT or
400, 403 for a refused Host or origin, 404 where the request names nothing that exists.
None may leak the canary that lies beside the artifact root, write or delete anything
outside the root, or make the server connect anywhere.

The rows, by class (A to G as in §1):

- A, C: path traversal on every artifact operation (upload, sessions, folders,
  multipart, download, list, stat, delete) of runs, experiments and logged models;
- B: local file read through a model version's `source`, an experiment's
  `artifact_location` and `models:/` or `runs:/` URIs, at write time and, with the
  store tampered with, at read time;
- D: SSRF through the same URIs (cloud metadata, loopback in disguise, other buckets);
- G: DNS rebinding (foreign Host), cross-origin writes and preflights, and `text/plain`
  or form bodies on state-changing calls.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import grpc
import pytest
import sqlalchemy as sa

from tests.artifacts.conftest import S3_ENV, emulator
from tests.security.conftest import CANARY_NAME, Stubs, Target
from tests.security.http_client import Reply, send, send_json, url_path
from trackway.config import ServerConfig
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb
from trackway.gen.registry.v1 import model_registry_service_pb2 as rpb
from trackway.gen.registry.v1 import model_version_pb2
from trackway.gen.tracking.v1 import logged_model_service_pb2 as lpb
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.server.app import RunningServer, create_server
from trackway.store import registry_schema, schema

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PROXY = "/api/2.0/mlflow-artifacts"
MLFLOW = "/api/2.0/mlflow"


@dataclass
class Outcome:
    """What one attempt got back: a gRPC code or an HTTP status, and the bytes it saw."""

    code: grpc.StatusCode | None
    status: int
    body: bytes

    @classmethod
    def of_reply(cls, reply: Reply) -> Outcome:
        return cls(None, reply.status, reply.body)

    def show(self) -> str:
        what = self.code.name if self.code is not None else str(self.status)
        return f"{what}: {self.body[:300]!r}"


def _rpc(call: Callable[[], object]) -> Outcome:
    try:
        result = call()
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        return Outcome(code, 0, (details or "").encode())
    return Outcome(grpc.StatusCode.OK, 0, str(result).encode(errors="replace"))


def _untouched(target: Target) -> None:
    """Nothing outside the root was written, changed or deleted."""
    assert target.outside_state() == {CANARY_NAME: target.secret}
    assert target.neighbours() == ["artifacts", "outside"]


def _refused(outcome: Outcome, target: Target, statuses: tuple[int, ...] = (400,)) -> None:
    if outcome.code is not None:
        assert outcome.code == INVALID, outcome.show()
    else:
        assert outcome.status in statuses, outcome.show()
    assert target.secret not in outcome.body
    _untouched(target)


# A, C. Path traversal ----------------------------------------------------------------


@dataclass(frozen=True)
class Traversal:
    cve: str
    name: str
    # (the relative way from the scope's folder to `outside/`, its absolute path) -> path
    shape: Callable[[str, str], str]


TRAVERSALS = [
    Traversal("CVE-2023-30172", "dot-dot", lambda up, ab: f"{up}/{CANARY_NAME}"),
    Traversal("CVE-2023-6909", "backslashes", lambda up, ab: up.replace("/", "\\") + "\\x"),
    Traversal("CVE-2023-6753", "leading backslash", lambda up, ab: "\\" + up.replace("/", "\\")),
    Traversal("CVE-2023-1176", "absolute path", lambda up, ab: f"{ab}/{CANARY_NAME}"),
    Traversal("CVE-2023-3765", "windows drive", lambda up, ab: "C:\\outside\\" + CANARY_NAME),
    Traversal("CVE-2023-6831", "encoded dots", lambda up, ab: up.replace("..", "%2e%2e") + "/x"),
    Traversal("CVE-2023-6831", "encoded slashes", lambda up, ab: up.replace("/", "%2F") + "%2Fx"),
    Traversal(
        "CVE-2024-1560",
        "double-encoded",
        lambda up, ab: up.replace(".", "%252e").replace("/", "%252f") + "%252fx",
    ),
    Traversal("CVE-2024-1560", "overlong utf-8 slash", lambda up, ab: up.replace("/", "%c0%af")),
    Traversal("CVE-2024-1593", "semicolon parameter", lambda up, ab: f"a;/../{up}/x"),
    Traversal("CVE-2023-30172", "dot segment", lambda up, ab: f"a/./../{up}/x"),
    Traversal("CVE-2023-6015", "NUL byte", lambda up, ab: f"ok.txt\x00/../{up}/x"),
    Traversal("CVE-2024-1483", "fragment", lambda up, ab: f"a#/../{up}/x"),
    Traversal("CVE-2024-3848", "query", lambda up, ab: f"a?/../{up}/x"),
    Traversal("CVE-2026-2033", "symlink to a file", lambda up, ab: "link.txt"),
    Traversal("CVE-2026-2033", "symlink to a folder", lambda up, ab: f"escape/{CANARY_NAME}"),
    Traversal("CVE-2023-6831", "fullwidth dots", lambda up, ab: up.replace(".", "\uff0e") + "/x"),
    Traversal("CVE-2023-6831", "two-dot leaders", lambda up, ab: up.replace("..", "\u2025") + "/x"),
    Traversal("CVE-2023-6831", "fullwidth solidus", lambda up, ab: up.replace("/", "\uff0f")),
    Traversal("CVE-2023-6831", "over-long path", lambda up, ab: "a/" * 600 + "x"),
]
SCOPES = ("run", "experiment", "logged model")


@dataclass
class Where:
    """One artifact owner: its gRPC scope, its folder below the root, and the prefix
    inside the scope (a logged model's files live in its experiment's scope)."""

    scope: artifact_pb2.ArtifactScope
    folder: str
    inside: str
    v1: str

    def escape(self, target: Target) -> str:
        return os.path.relpath(target.outside, target.root / self.folder)


def where(target: Target, kind: str) -> Where:
    s = target.seeded
    if kind == "run":
        return Where(artifact_pb2.ArtifactScope(run_id=s.run_id), s.run_dir, "", f"runs/{s.run_id}")
    scope = artifact_pb2.ArtifactScope(experiment_id=s.experiment_id)
    v1 = f"experiments/{s.experiment_id}"
    if kind == "experiment":
        return Where(scope, s.experiment_dir, "", v1)
    return Where(scope, s.logged_dir, s.logged_dir[len(s.experiment_dir) + 1 :] + "/", v1)


def _upload_stream(header: apb.UploadHeader) -> Iterator[apb.UploadRequest]:
    yield apb.UploadRequest(header=header)
    yield apb.UploadRequest(chunk=b"pwn")


def _folder_stream(
    scope: artifact_pb2.ArtifactScope, base: str, name: str
) -> Iterator[apb.UploadFolderRequest]:
    yield apb.UploadFolderRequest(start=apb.UploadFolderStart(scope=scope, path=base))
    yield apb.UploadFolderRequest(file=apb.UploadFolderFile(path=name, size=3))
    yield apb.UploadFolderRequest(chunk=b"pwn")


Op = Callable[[Target, Where, str, bool], Outcome]


def _grpc_ops() -> dict[str, Op]:
    def upload(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        header = apb.UploadHeader(scope=w.scope, path=w.inside + p, size=3)
        return _rpc(lambda: t.stubs.artifacts.Upload(_upload_stream(header)))

    def session(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        request = apb.CreateUploadSessionRequest(scope=w.scope, path=w.inside + p, size=3)
        return _rpc(lambda: t.stubs.artifacts.CreateUploadSession(request))

    def folder_start(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        return _rpc(
            lambda: t.stubs.artifacts.UploadFolder(_folder_stream(w.scope, w.inside + p, "f"))
        )

    def folder_file(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        base = w.inside.rstrip("/")
        return _rpc(lambda: t.stubs.artifacts.UploadFolder(_folder_stream(w.scope, base, p)))

    def download(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        request = apb.DownloadRequest(scope=w.scope, path=w.inside + p)
        return _rpc(lambda: b"".join(m.chunk for m in t.stubs.artifacts.Download(request)))

    def listing(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        request = apb.ListArtifactsRequest(scope=w.scope, path=w.inside + p)
        return _rpc(lambda: t.stubs.artifacts.ListArtifacts(request))

    def stat(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        request = apb.StatArtifactRequest(scope=w.scope, path=w.inside + p)
        return _rpc(lambda: t.stubs.artifacts.StatArtifact(request))

    def delete(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        request = apb.DeleteArtifactRequest(scope=w.scope, path=w.inside + p)
        return _rpc(lambda: t.stubs.artifacts.DeleteArtifact(request))

    return {
        "grpc.Upload": upload,
        "grpc.CreateUploadSession": session,
        "grpc.UploadFolder(start)": folder_start,
        "grpc.UploadFolder(file)": folder_file,
        "grpc.Download": download,
        "grpc.ListArtifacts": listing,
        "grpc.StatArtifact": stat,
        "grpc.DeleteArtifact": delete,
    }


def _http(t: Target, method: str, target: str, body: bytes | None = None) -> Outcome:
    return Outcome.of_reply(send(t.server.http_port, method, target, body=body))


def _http_json(t: Target, method: str, target: str, value: object) -> Outcome:
    return Outcome.of_reply(send_json(t.server.http_port, method, target, value))


def _http_ops() -> dict[str, Op]:
    """Doors that carry the path in the URL (sent quoted, and raw when that differs)."""

    def proxy(method: str, body: bytes | None = None) -> Op:
        def op(t: Target, w: Where, p: str, raw: bool) -> Outcome:
            path = url_path(f"{w.folder}/{p}", raw=raw)
            return _http(t, method, f"{PROXY}/artifacts/{path}", body)

        return op

    def mpu(action: str) -> Op:
        def op(t: Target, w: Where, p: str, raw: bool) -> Outcome:
            path = url_path(f"{w.folder}/{p}", raw=raw)
            body = {"path": "f.bin", "num_parts": 1, "upload_id": "0" * 32, "parts": []}
            return _http_json(t, "POST", f"{PROXY}/mpu/{action}/{path}", body)

        return op

    def v1(method: str, body: bytes | None = None) -> Op:
        def op(t: Target, w: Where, p: str, raw: bool) -> Outcome:
            path = url_path(w.inside + p, raw=raw)
            return _http(t, method, f"/v1/{w.v1}/artifacts/{path}", body)

        return op

    return {
        "proxy.GET": proxy("GET"),
        "proxy.PUT": proxy("PUT", b"pwn"),
        "proxy.DELETE": proxy("DELETE"),
        "proxy.mpu/create": mpu("create"),
        "proxy.mpu/complete": mpu("complete"),
        "proxy.mpu/abort": mpu("abort"),
        "v1.GET": v1("GET"),
        "v1.PUT": v1("PUT", b"pwn"),
        "v1.DELETE": v1("DELETE"),
    }


def _query_ops() -> dict[str, Op]:
    """Doors that carry the path in a query parameter or a JSON body."""

    def proxy_list(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        return _http(t, "GET", f"{PROXY}/artifacts?" + urlencode({"path": f"{w.folder}/{p}"}))

    def mlflow_list(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        query = urlencode({"run_id": t.seeded.run_id, "path": p})
        return _http(t, "GET", f"{MLFLOW}/artifacts/list?{query}")

    def v1_list(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        return _http(t, "GET", f"/v1/{w.v1}/artifacts?" + urlencode({"path": w.inside + p}))

    def v1_stat(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        return _http(t, "GET", f"/v1/{w.v1}/artifacts:stat?" + urlencode({"path": w.inside + p}))

    def v1_session(t: Target, w: Where, p: str, raw: bool) -> Outcome:
        scope = (
            {"runId": w.scope.run_id} if w.scope.run_id else {"experimentId": w.scope.experiment_id}
        )
        body = {"scope": scope, "path": w.inside + p, "size": "3"}
        return _http_json(t, "POST", "/v1/uploadSessions", body)

    return {
        "proxy.list": proxy_list,
        "mlflow.artifacts/list": mlflow_list,
        "v1.list": v1_list,
        "v1.stat": v1_stat,
        "v1.uploadSessions": v1_session,
    }


GRPC_OPS = _grpc_ops()
URL_OPS = _http_ops()
QUERY_OPS = _query_ops()
OPS = {**GRPC_OPS, **URL_OPS, **QUERY_OPS}


def _raw_differs(attack: Traversal) -> bool:
    """Whether sending the path raw differs from sending it quoted (it does when it holds
    `%`, `;` or a backslash, which a raw sender leaves for the server to decode)."""
    sample = attack.shape("../../outside", "/tmp/outside")
    return url_path(sample, raw=True) != url_path(sample, raw=False)


def _traversal_cases() -> Iterator[object]:
    for attack in TRAVERSALS:
        for op in OPS:
            for scope in SCOPES:
                if op == "mlflow.artifacts/list" and scope != "run":
                    continue  # that route lists runs only
                encodings = [False, True] if op in URL_OPS and _raw_differs(attack) else [False]
                for raw in encodings:
                    label = f"{attack.cve}-{attack.name}-{op}-{scope}{'-raw' if raw else ''}"
                    yield pytest.param(attack, op, scope, raw, id=label.replace(" ", "_"))


@pytest.mark.parametrize(("attack", "op", "scope", "raw"), list(_traversal_cases()))
def test_path_traversal_is_refused(
    attack_target: Target, attack: Traversal, op: str, scope: str, raw: bool
) -> None:
    w = where(attack_target, scope)
    path = attack.shape(w.escape(attack_target), str(attack_target.outside))
    outcome = OPS[op](attack_target, w, path, raw)
    statuses: tuple[int, ...] = (400,)
    if attack.name.startswith("symlink") and op in ("proxy.mpu/complete", "proxy.mpu/abort"):
        # A clean path: only the store can tell it leads out, and these never reach it
        # for an upload that does not exist (a symlinked target is refused when the
        # upload is created). Completing is 404; aborting drops staged parts only, and
        # dropping none is no error.
        statuses = (400, 404) if op == "proxy.mpu/complete" else (400, 200)
    if op == "proxy.list" and attack.name == "absolute path":
        # The proxy names artifacts by their path below the root; a path starting
        # elsewhere names no run or experiment.
        statuses = (400, 404)
    if op == "mlflow.artifacts/list" and attack.name == "absolute path" and outcome.status == 200:
        # MLflow's list route strips the leading '/', which makes the path relative to
        # the run: it can only name the run's own (missing) folder.
        assert outcome.body.count(b'"path"') == 0, outcome.show()
        statuses = (200,)
    _refused(outcome, attack_target, statuses)


def test_the_ui_files_never_leave_their_folder(attack_target: Target) -> None:
    """The UI's files are served from a table built at start-up, so no request path can
    reach the disk; every traversal shape is a plain 404."""
    up = os.path.relpath(attack_target.outside, "/")
    shapes = [
        f"/ui/../../../../../{up}/{CANARY_NAME}",
        f"/ui/%2e%2e/%2e%2e/%2e%2e/{up}/{CANARY_NAME}",
        f"/ui/%252e%252e/{up}/{CANARY_NAME}",
        f"/ui/..%5c..%5c{CANARY_NAME}",
        f"/ui/{quote(str(attack_target.outside))}/{CANARY_NAME}",
        "/ui/../../../../etc/passwd",
        "/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/ui/..;/..;/etc/passwd",
        f"/..%2f..%2f{up}/{CANARY_NAME}",
        f"/{quote(str(attack_target.outside))}/{CANARY_NAME}",
        "/index.html/../../../etc/passwd",
    ]
    for shape in shapes:
        for method in ("GET", "HEAD"):
            reply = send(attack_target.server.http_port, method, shape)
            assert reply.status == 404, (shape, reply.status, reply.body[:200])
            assert attack_target.secret not in reply.body
            assert b"root:x:0:0" not in reply.body


def test_mlflows_original_file_read_routes_do_not_exist(attack_target: Target) -> None:
    """CVE-2023-30172 (`/get-artifact`) and CVE-2023-1177 (`/model-versions/get-artifact`)
    read files through routes of MLflow's UI server. Trackway has neither: 404."""
    rid, model = attack_target.seeded.run_id, attack_target.seeded.model_name
    for route in (
        f"/get-artifact?path=../../../../etc/passwd&run_uuid={rid}",
        f"/model-versions/get-artifact?path=passwd&name={model}&version=1",
        f"/ajax-api/2.0/mlflow/get-artifact?path=../../etc/passwd&run_uuid={rid}",
        f"{MLFLOW}/model-versions/get-artifact?path=passwd&name={model}&version=1",
    ):
        reply = send(attack_target.server.http_port, "GET", route)
        assert reply.status == 404, (route, reply.status)
        assert b"root:x:0:0" not in reply.body


# B, D. File read and SSRF through stored URIs ------------------------------------------


class Listener:
    """A TCP port that counts the connections it gets: an SSRF row aims at it, and the
    count must stay 0."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


@dataclass(frozen=True)
class StoredUri:
    cve: str
    name: str
    # (the server's root URI, the seeded run id, the model name, the listener's port)
    uri: Callable[[str, str, str, int], str]


LOCAL_READS = [
    StoredUri("CVE-2023-1177", "file URI", lambda r, rid, m, p: "file:///etc/passwd"),
    StoredUri("CVE-2023-1177", "file folder", lambda r, rid, m, p: "file:///etc/"),
    StoredUri("CVE-2023-1177", "plain path", lambda r, rid, m, p: "/etc/passwd"),
    StoredUri(
        "CVE-2023-1177", "file with host", lambda r, rid, m, p: "file://localhost/etc/passwd"
    ),
    StoredUri("CVE-2024-3573", "relative path", lambda r, rid, m, p: "etc/passwd"),
    StoredUri("CVE-2024-3573", "empty-authority file", lambda r, rid, m, p: "file:/etc/passwd"),
    StoredUri("CVE-2024-3573", "upper-case scheme", lambda r, rid, m, p: "FILE:///etc/passwd"),
    StoredUri("CVE-2023-2356", "root then dot-dot", lambda r, rid, m, p: f"{r}/../../../etc"),
    StoredUri("CVE-2023-2356", "root then encoded", lambda r, rid, m, p: f"{r}/%2e%2e/%2e%2e/etc"),
    StoredUri("CVE-2023-2780", "root then backslashes", lambda r, rid, m, p: f"{r}/\\..\\..\\etc"),
    StoredUri("CVE-2023-2780", "windows path", lambda r, rid, m, p: "C:\\Windows\\win.ini"),
    StoredUri("CVE-2023-2356", "s3 dot-dot", lambda r, rid, m, p: "s3://bucket/../../etc"),
    StoredUri("CVE-2023-2356", "proxy dot-dot", lambda r, rid, m, p: "mlflow-artifacts:/../../etc"),
    StoredUri("CVE-2024-1483", "http fragment", lambda r, rid, m, p: "http:///#/../../../../etc/"),
    StoredUri("CVE-2024-2928", "http query", lambda r, rid, m, p: "http://h/x?/../../../etc"),
    StoredUri("CVE-2024-3848", "root then fragment", lambda r, rid, m, p: f"{r}/x#/../../../etc"),
    StoredUri("CVE-2025-11201", "root itself", lambda r, rid, m, p: r),
    StoredUri("CVE-2025-11201", "lookalike dots", lambda r, rid, m, p: f"{r}/\uff0e\uff0e/etc"),
    StoredUri("CVE-2023-1177", "runs dot-dot", lambda r, rid, m, p: f"runs:/{rid}/../../../etc"),
    StoredUri("CVE-2023-1177", "runs encoded", lambda r, rid, m, p: f"runs:/{rid}/%2e%2e/x"),
    StoredUri("CVE-2023-1177", "runs with host", lambda r, rid, m, p: f"runs://evil/{rid}/x"),
    StoredUri("CVE-2023-1177", "runs bad id", lambda r, rid, m, p: "runs:/../../../etc/passwd"),
    StoredUri("CVE-2023-1177", "models with host", lambda r, rid, m, p: f"models://evil/{m}/1"),
    StoredUri("CVE-2023-1177", "models dot-dot", lambda r, rid, m, p: f"models:/{m}/1/../../etc"),
    StoredUri("CVE-2023-1177", "models bad name", lambda r, rid, m, p: "models:/../../etc/1"),
]
SSRF = [
    StoredUri(
        "CVE-2026-2393", "cloud metadata", lambda r, rid, m, p: "http://169.254.169.254/latest/"
    ),
    StoredUri("CVE-2026-2393", "loopback", lambda r, rid, m, p: f"http://127.0.0.1:{p}/x"),
    StoredUri(
        "CVE-2026-64849",
        "ipv4-mapped ipv6",
        lambda r, rid, m, p: f"http://[::ffff:127.0.0.1]:{p}/x",
    ),
    StoredUri("CVE-2026-64849", "hex address", lambda r, rid, m, p: f"http://0x7f000001:{p}/x"),
    StoredUri("CVE-2026-64849", "decimal address", lambda r, rid, m, p: f"http://2130706433:{p}/x"),
    StoredUri(
        "CVE-2026-2393", "https elsewhere", lambda r, rid, m, p: "https://attacker.example/x"
    ),
    StoredUri("CVE-2026-2393", "ftp", lambda r, rid, m, p: f"ftp://127.0.0.1:{p}/x"),
    StoredUri("CVE-2026-2393", "s3 other bucket", lambda r, rid, m, p: "s3://attacker-bucket/x"),
    StoredUri(
        "CVE-2026-2393",
        "s3 endpoint override",
        lambda r, rid, m, p: f"s3://bucket/x?endpoint_url=http://127.0.0.1:{p}",
    ),
    StoredUri("CVE-2026-2393", "gs other bucket", lambda r, rid, m, p: "gs://attacker-bucket/x"),
    StoredUri(
        "CVE-2026-2393",
        "wasbs other account",
        lambda r, rid, m, p: "wasbs://c@attacker.blob.core.windows.net/x",
    ),
    StoredUri("CVE-2026-2393", "azure container", lambda r, rid, m, p: "az://container/x"),
    StoredUri("CVE-2026-2393", "hdfs", lambda r, rid, m, p: f"hdfs://127.0.0.1:{p}/x"),
    StoredUri(
        "CVE-2026-2393", "root as userinfo", lambda r, rid, m, p: f"http://{r}@127.0.0.1:{p}/"
    ),
]
DOORS = ("grpc", "mlflow", "v1")
# CVE-2026-2614: a request tag made MLflow's handler skip its source check.
SPECIAL_TAGS = [("mlflow.prompt.is_prompt", "true"), ("mlflow.source.type", "LOCAL")]


def _uri_cases(rows: list[StoredUri]) -> list[object]:
    return [
        pytest.param(row, door, id=f"{row.cve}-{row.name}-{door}".replace(" ", "_"))
        for row in rows
        for door in DOORS
    ]


def _uri(target: Target, row: StoredUri, listener: Listener) -> str:
    s = target.seeded
    return row.uri(target.root_uri, s.run_id, s.model_name, listener.port)


def _create_version(target: Target, door: str, source: str, tags: bool = False) -> Outcome:
    model = target.seeded.model_name
    pairs = SPECIAL_TAGS if tags else []
    if door == "grpc":
        request = rpb.CreateModelVersionRequest(
            name=model,
            source=source,
            tags=[model_version_pb2.ModelVersionTag(key=k, value=v) for k, v in pairs],
        )
        return _rpc(lambda: target.stubs.registry.CreateModelVersion(request))
    body = {"source": source, "tags": [{"key": k, "value": v} for k, v in pairs]}
    if door == "mlflow":
        return _http_json(
            target, "POST", f"{MLFLOW}/model-versions/create", {"name": model, **body}
        )
    return _http_json(target, "POST", f"/v1/registeredModels/{quote(model)}/versions", body)


def _create_experiment(target: Target, door: str, location: str) -> Outcome:
    name = f"attack-{os.urandom(6).hex()}"
    if door == "grpc":
        request = tpb.CreateExperimentRequest(name=name, artifact_location=location)
        return _rpc(lambda: target.stubs.tracking.CreateExperiment(request))
    if door == "mlflow":
        body = {"name": name, "artifact_location": location}
        return _http_json(target, "POST", f"{MLFLOW}/experiments/create", body)
    return _http_json(
        target, "POST", "/v1/experiments", {"name": name, "artifactLocation": location}
    )


@pytest.mark.parametrize(("row", "door"), _uri_cases(LOCAL_READS + SSRF))
def test_a_model_version_source_outside_the_root_is_refused(
    attack_target: Target, listener: Listener, row: StoredUri, door: str
) -> None:
    source = _uri(attack_target, row, listener)
    for tags in (False, True):
        _refused(_create_version(attack_target, door, source, tags), attack_target)
    assert listener.connections == 0


@pytest.mark.parametrize(("row", "door"), _uri_cases(LOCAL_READS + SSRF))
def test_an_experiment_artifact_location_outside_the_root_is_refused(
    attack_target: Target, listener: Listener, row: StoredUri, door: str
) -> None:
    _refused(
        _create_experiment(attack_target, door, _uri(attack_target, row, listener)), attack_target
    )
    assert listener.connections == 0


RESOLVE_ROWS = LOCAL_READS + SSRF


@pytest.mark.parametrize(
    ("row", "door"),
    [
        pytest.param(row, door, id=f"{row.cve}-{row.name}-{door}".replace(" ", "_"))
        for row in RESOLVE_ROWS
        for door in ("grpc", "v1")
    ],
)
def test_resolving_a_uri_never_points_outside_the_root(
    attack_target: Target, listener: Listener, row: StoredUri, door: str
) -> None:
    uri = _uri(attack_target, row, listener)
    if door == "grpc":
        request = rpb.ResolveModelUriRequest(uri=uri)
        outcome = _rpc(lambda: attack_target.stubs.registry.ResolveModelUri(request))
    else:
        outcome = _http(attack_target, "GET", "/v1/modelUris:resolve?" + urlencode({"uri": uri}))
    _refused(outcome, attack_target)
    assert listener.connections == 0


def test_the_proxy_scheme_never_names_another_host(
    attack_target: Target, listener: Listener
) -> None:
    """`mlflow-artifacts://host:port/path` names this server through another address:
    the host part is dropped, never contacted, and the path stays below the root."""
    location = f"mlflow-artifacts://127.0.0.1:{listener.port}/elsewhere/../../etc"
    _refused(_create_experiment(attack_target, "mlflow", location), attack_target)
    fine = f"mlflow-artifacts://127.0.0.1:{listener.port}/proxied-{os.urandom(4).hex()}"
    made = _create_experiment(attack_target, "mlflow", fine)
    assert made.status == 200, made.show()
    assert listener.connections == 0


def _artifact_calls(t: Target, scope: artifact_pb2.ArtifactScope) -> list[Callable[[], object]]:
    """A read, a listing, a delete and a write of the canary's name in `scope`."""
    artifacts = t.stubs.artifacts
    return [
        lambda: b"".join(
            m.chunk for m in artifacts.Download(apb.DownloadRequest(scope=scope, path=CANARY_NAME))
        ),
        lambda: artifacts.ListArtifacts(apb.ListArtifactsRequest(scope=scope)),
        lambda: artifacts.DeleteArtifact(apb.DeleteArtifactRequest(scope=scope, path=CANARY_NAME)),
        lambda: artifacts.Upload(
            _upload_stream(apb.UploadHeader(scope=scope, path="new.txt", size=3))
        ),
    ]


def test_a_tampered_experiment_location_is_never_served(attack_target: Target) -> None:
    """Defence in depth (CVE-2024-1483 stored the bad location first): a location that
    is outside the root in the database, however it got there, is refused at read time
    by every door."""
    t = attack_target
    exp = t.stubs.tracking.CreateExperiment(tpb.CreateExperimentRequest(name="tampered-exp"))
    eid = exp.experiment.experiment_id
    run = t.stubs.tracking.CreateRun(tpb.CreateRunRequest(experiment_id=eid)).run
    with t.server.store.engine.begin() as conn:
        conn.execute(
            sa.update(schema.experiments)
            .where(schema.experiments.c.experiment_id == int(eid))
            .values(artifact_location=t.outside.as_uri())
        )
        conn.execute(
            sa.update(schema.runs)
            .where(schema.runs.c.run_id == run.info.run_id)
            .values(artifact_uri=t.outside.as_uri())
        )
    for scope in (
        artifact_pb2.ArtifactScope(experiment_id=eid),
        artifact_pb2.ArtifactScope(run_id=run.info.run_id),
    ):
        for call in _artifact_calls(t, scope):
            outcome = _rpc(call)
            assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION, outcome.show()
            assert t.secret not in outcome.body
    for route in (
        f"/v1/experiments/{eid}/artifacts/{CANARY_NAME}",
        f"/v1/runs/{run.info.run_id}/artifacts/{CANARY_NAME}",
        f"/v1/experiments/{eid}/artifacts?path=",
        f"{MLFLOW}/artifacts/list?run_id={run.info.run_id}",
    ):
        reply = send(t.server.http_port, "GET", route)
        assert reply.status == 400 and t.secret not in reply.body, (route, reply.status)
    _untouched(t)


def test_a_tampered_model_version_location_is_never_handed_out(attack_target: Target) -> None:
    t = attack_target
    model = t.seeded.model_name
    made = t.stubs.registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(name=model, source=f"runs:/{t.seeded.run_id}/model")
    ).model_version
    models_table = registry_schema.registered_models
    with t.server.store.engine.begin() as conn:
        model_id = conn.execute(
            sa.select(models_table.c.model_id).where(models_table.c.name == model)
        ).scalar_one()
        conn.execute(
            sa.update(registry_schema.model_versions)
            .where(registry_schema.model_versions.c.model_id == model_id)
            .where(registry_schema.model_versions.c.version == made.version)
            .values(storage_location=t.outside.as_uri())
        )
    version = made.version
    for call in (
        lambda: t.stubs.registry.GetModelVersionDownloadUri(
            rpb.GetModelVersionDownloadUriRequest(name=model, version=version)
        ),
        lambda: t.stubs.registry.ResolveModelUri(
            rpb.ResolveModelUriRequest(uri=f"models:/{model}/{version}")
        ),
    ):
        outcome = _rpc(call)
        assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION, outcome.show()
    for route in (
        f"{MLFLOW}/model-versions/get-download-uri?name={model}&version={version}",
        f"/v1/registeredModels/{model}/versions/{version}:getDownloadUri",
        "/v1/modelUris:resolve?" + urlencode({"uri": f"models:/{model}/{version}"}),
    ):
        reply = send(t.server.http_port, "GET", route)
        assert reply.status == 400, (route, reply.status, reply.body[:200])
    # Clean up, so the module's other rows see the model as it was.
    t.stubs.registry.DeleteModelVersion(rpb.DeleteModelVersionRequest(name=model, version=version))


def test_a_tampered_logged_model_location_is_never_handed_out(attack_target: Target) -> None:
    t = attack_target
    made = t.stubs.logged.CreateLoggedModel(
        lpb.CreateLoggedModelRequest(experiment_id=t.seeded.experiment_id, name="tampered")
    ).model
    with t.server.store.engine.begin() as conn:
        conn.execute(
            sa.update(schema.logged_models)
            .where(schema.logged_models.c.model_id == made.model_id)
            .values(artifact_location=t.outside.as_uri())
        )
    uri = f"models:/{made.model_id}"
    outcome = _rpc(lambda: t.stubs.registry.ResolveModelUri(rpb.ResolveModelUriRequest(uri=uri)))
    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION, outcome.show()
    reply = send(t.server.http_port, "GET", "/v1/modelUris:resolve?" + urlencode({"uri": uri}))
    assert reply.status == 400, reply.body[:200]


# G. Browser-borne: DNS rebinding, CORS, text/plain CSRF ---------------------------------

ATTACKER = "https://attacker.example"


def _rebinding_requests(t: Target) -> list[tuple[str, str, str, bytes | None]]:
    """(door, method, target, JSON body) of requests worth making from a rebound page."""
    s = t.seeded
    return [
        ("mlflow", "GET", f"{MLFLOW}/experiments/get?experiment_id={s.experiment_id}", None),
        ("ajax", "GET", f"/ajax-api/2.0/mlflow/runs/get?run_id={s.run_id}", None),
        ("proxy", "GET", f"{PROXY}/artifacts/{s.run_dir}/ok.txt", None),
        ("proxy", "POST", f"{PROXY}/mpu/create/{s.run_dir}", b'{"path": "f", "num_parts": 1}'),
        ("v1", "GET", f"/v1/runs/{s.run_id}", None),
        ("v1", "GET", f"/v1/runs/{s.run_id}/artifacts/ok.txt", None),
        ("v1", "POST", "/v1/experiments", b'{"name": "rebound"}'),
        ("ui", "GET", "/", None),
        ("ui", "GET", "/ui/js/api.js", None),
        ("health", "GET", "/health", None),
    ]


REBOUND_HOSTS = [
    "attacker.example",
    "attacker.example:{port}",
    "localhost.attacker.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "attacker.example.:{port}",
    "LOCALHOST.attacker.example",
    "localhost:{port}@attacker.example",
    "localhost:notaport",
    "[::1",
    " ",
]


@pytest.mark.parametrize("host", REBOUND_HOSTS)
def test_dns_rebinding_a_foreign_host_is_refused(attack_target: Target, host: str) -> None:
    """mlflow/mlflow#17910 (MLflow 3.5's --allowed-hosts): a page that re-resolved its
    own name to this server still sends its own name as the Host."""
    t = attack_target
    sent = host.format(port=t.server.http_port)
    for door, method, route, body in _rebinding_requests(t):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        reply = send(t.server.http_port, method, route, host=sent, body=body, headers=headers)
        assert reply.status == 403, (door, route, sent, reply.status, reply.body[:200])
        assert t.seeded.run_id.encode() not in reply.body
        assert b"harmless" not in reply.body
        assert "access-control-allow-origin" not in reply.headers
    names = t.stubs.tracking.SearchExperiments(
        tpb.SearchExperimentsRequest(filter="name = 'rebound'")
    )
    assert not names.experiments


def test_two_host_headers_are_refused(attack_target: Target) -> None:
    port = attack_target.server.http_port
    reply = send(
        port,
        "GET",
        f"/v1/runs/{attack_target.seeded.run_id}",
        headers={"Host": "attacker.example"},
    )  # `send` adds the real Host first: two in all
    assert reply.status in (400, 403)
    assert attack_target.seeded.run_id.encode() not in reply.body


def _writes(t: Target) -> list[tuple[str, str, str, bytes]]:
    """(door, method, target, JSON body) of state-changing calls, each harmless to repeat."""
    s = t.seeded
    create = b'{"name": "csrf-made"}'
    return [
        ("mlflow", "POST", f"{MLFLOW}/experiments/create", create),
        ("ajax", "POST", "/ajax-api/2.0/mlflow/experiments/create", create),
        (
            "mlflow",
            "POST",
            f"{MLFLOW}/experiments/update",
            b'{"experiment_id": "%s", "new_name": "csrf-renamed"}' % s.experiment_id.encode(),
        ),
        (
            "mlflow",
            "POST",
            f"{MLFLOW}/runs/set-tag",
            b'{"run_id": "%s", "key": "csrf", "value": "1"}' % s.run_id.encode(),
        ),
        ("v1", "POST", "/v1/experiments", create),
        ("v1", "POST", f"/v1/runs/{s.run_id}/tags", b'{"key": "csrf", "value": "1"}'),
        (
            "v1",
            "PATCH",
            f"/v1/experiments/{s.experiment_id}",
            b'{"name": "csrf-renamed", "updateMask": "name"}',
        ),
        ("v1", "DELETE", f"/v1/runs/{s.run_id}/tags/never", b""),
        ("proxy", "PUT", f"{PROXY}/artifacts/{s.run_dir}/csrf.txt", b"pwn"),
        ("proxy", "DELETE", f"{PROXY}/artifacts/{s.run_dir}/ok.txt", b""),
        ("v1", "PUT", f"/v1/runs/{s.run_id}/artifacts/csrf.txt", b"pwn"),
    ]


def _nothing_written(t: Target) -> None:
    tracking = t.stubs.tracking
    made = tracking.SearchExperiments(tpb.SearchExperimentsRequest(filter="name LIKE 'csrf%'"))
    assert not made.experiments
    run = tracking.GetRun(tpb.GetRunRequest(run_id=t.seeded.run_id)).run
    assert "csrf" not in {tag.key for tag in run.data.tags}
    files = t.stubs.artifacts.ListArtifacts(
        apb.ListArtifactsRequest(scope=artifact_pb2.ArtifactScope(run_id=t.seeded.run_id))
    )
    names = {f.path for f in files.files}
    assert "ok.txt" in names and "csrf.txt" not in names


@pytest.mark.parametrize("origin", [ATTACKER, "null", "http://127.0.0.1:1", "http://localhost"])
def test_a_cross_origin_write_is_refused(attack_target: Target, origin: str) -> None:
    """CVE-2023-43472's page, now with its Origin: refused before the app sees it, on
    every door and method (a write from another port of this host is another origin)."""
    t = attack_target
    for door, method, route, body in _writes(t):
        headers = {"Origin": origin, "Content-Type": "application/json"}
        reply = send(t.server.http_port, method, route, body=body, headers=headers)
        assert reply.status == 403, (door, method, route, origin, reply.status, reply.body[:200])
        assert "access-control-allow-origin" not in reply.headers
    _nothing_written(t)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "TEXT/PLAIN",
    ],
)
def test_a_simple_request_body_is_refused(attack_target: Target, content_type: str) -> None:
    """CVE-2023-43472: a form or a `fetch` with a text/plain body needs no preflight, so
    an old browser sends it cross-site with no Origin at all. State-changing calls refuse
    those types whatever the Origin says."""
    t = attack_target
    for door, method, route, body in _writes(t):
        if method == "PUT":
            continue  # raw artifact bytes of any type; browsers preflight every PUT
        reply = send(
            t.server.http_port, method, route, body=body, headers={"Content-Type": content_type}
        )
        assert reply.status == 400, (door, method, route, reply.status, reply.body[:200])
        assert b"application/json" in reply.body
    _nothing_written(t)


def test_no_cors_header_is_ever_sent_by_default(attack_target: Target) -> None:
    t = attack_target
    for _, method, route, _body in _rebinding_requests(t):
        if method != "GET":
            continue
        reply = send(t.server.http_port, method, route, headers={"Origin": ATTACKER})
        assert reply.status == 200, (route, reply.status)
        assert not any(h.startswith("access-control-") for h in reply.headers), route
    preflight = send(
        t.server.http_port,
        "OPTIONS",
        "/v1/experiments",
        headers={
            "Origin": ATTACKER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 403
    assert not any(h.startswith("access-control-") for h in preflight.headers)


# D, with the root in an object store: other buckets and lookalike prefixes --------------


@dataclass
class S3Target:
    server: RunningServer
    stubs: Stubs
    root: str  # s3://bucket/prefix
    endpoint: str


@pytest.fixture(scope="module")
def s3_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Target]:
    """A server whose artifact root is a bucket prefix on the S3 emulator."""
    endpoint = emulator(S3_ENV)
    import boto3  # a test dependency: never skipped

    folder = tmp_path_factory.mktemp("s3-root")
    bucket = f"tw-sec-{os.urandom(6).hex()}"
    with pytest.MonkeyPatch.context() as patch:
        for var, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(var, value)
        patch.delenv("AWS_PROFILE", raising=False)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        running = create_server(
            ServerConfig(
                host="127.0.0.1",
                grpc_port=0,
                http_port=0,
                backend_store_uri=f"sqlite:///{folder / 'trackway.db'}",
                artifacts_destination=f"s3://{bucket}/team",
                s3_endpoint_url=endpoint,
            )
        )
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        yield S3Target(running, Stubs.on(channel), running.artifacts.root_uri, endpoint)
        channel.close()
        running.stop(grace=1.0)


def _s3_escapes(root: str, endpoint: str, listener_port: int) -> list[tuple[str, str]]:
    bucket = root.removeprefix("s3://").split("/", 1)[0]
    return [
        ("CVE-2026-2393", f"s3://attacker-{bucket}/team/x"),
        ("CVE-2026-2393", f"s3://{bucket}/other/x"),
        ("CVE-2026-2393", f"{root}-evil/x"),
        ("CVE-2023-2356", f"{root}/../other/x"),
        ("CVE-2023-2356", f"{root}/%2e%2e/other"),
        ("CVE-2026-2393", f"{root}/x?endpoint_url=http://127.0.0.1:{listener_port}"),
        ("CVE-2026-2393", f"s3a://{bucket}/team/x"),
        ("CVE-2026-2393", f"S3://{bucket}/team/x"),
        ("CVE-2026-2393", f"s3://evil@{bucket}/team/x"),
        ("CVE-2026-2393", f"{endpoint}/{bucket}/team/x"),
        ("CVE-2026-2393", f"gs://{bucket}/team/x"),
        ("CVE-2026-2393", f"wasbs://{bucket}@attacker.blob.core.windows.net/team/x"),
        ("CVE-2024-3573", "file:///etc/passwd"),
    ]


def test_an_object_store_root_confines_locations_to_its_prefix(
    s3_target: S3Target, listener: Listener
) -> None:
    t = s3_target
    model = f"s3-model-{os.urandom(4).hex()}"
    t.stubs.registry.CreateRegisteredModel(rpb.CreateRegisteredModelRequest(name=model))
    for cve, uri in _s3_escapes(t.root, t.endpoint, listener.port):
        made = _rpc(
            lambda uri=uri: t.stubs.tracking.CreateExperiment(  # type: ignore[misc]
                tpb.CreateExperimentRequest(name=f"s3-{os.urandom(4).hex()}", artifact_location=uri)
            )
        )
        assert made.code == INVALID, (cve, uri, made.show())
        version = _rpc(
            lambda uri=uri: t.stubs.registry.CreateModelVersion(  # type: ignore[misc]
                rpb.CreateModelVersionRequest(name=model, source=uri)
            )
        )
        assert version.code == INVALID, (cve, uri, version.show())
        reply = send_json(
            t.server.http_port,
            "POST",
            f"{MLFLOW}/experiments/create",
            {"name": f"s3-{os.urandom(4).hex()}", "artifact_location": uri},
        )
        assert reply.status == 400, (cve, uri, reply.status, reply.body[:200])
    # The rule is "below the root", not "nothing in S3": a folder below it is fine.
    fine = t.stubs.tracking.CreateExperiment(
        tpb.CreateExperimentRequest(name="s3-below", artifact_location=f"{t.root}/custom")
    )
    assert fine.experiment.artifact_location == f"{t.root}/custom"
    assert listener.connections == 0
