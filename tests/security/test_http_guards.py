"""The HTTP guards from the side of the people they must not get in the way of.

test_attacks.py shows what they refuse; this shows what they let through: the names a
server is reached by, `--allowed-hosts` and TRACKWAY_ALLOWED_HOSTS, CORS once an origin
is allowed with `--cors-allowed-origins`, same-origin writes from the UI, JSON and raw
artifact bodies, MLflow's own client, and a clear start-up error for a bad flag.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.http_client import send, send_json
from tests.support.procs import ServerProcess, free_port
from trackway.config import ServerConfig
from trackway.rest.guards import GuardPolicy
from trackway.server.app import RunningServer, create_server

APP = "https://app.example.com"
DEV = "http://localhost:3000"


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("guards-default")
    running = create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=f"sqlite:///{folder / 'trackway.db'}",
            artifacts_destination=(folder / "artifacts").as_uri(),
        )
    )
    yield running
    running.stop(grace=1.0)


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`trackway server` with both flags on its command line."""
    folder = tmp_path_factory.mktemp("guards-flags")
    proc = ServerProcess(
        f"sqlite:///{folder / 'trackway.db'}",
        (folder / "artifacts").as_uri(),
        folder / "server.log",
        extra_args=[
            "--allowed-hosts",
            "trackway.internal, *.corp.example",
            "--cors-allowed-origins",
            f"{APP},{DEV}",
        ],
    )
    yield proc
    proc.close()


@pytest.fixture(scope="module")
def from_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`trackway server` configured through TRACKWAY_ALLOWED_HOSTS and
    TRACKWAY_CORS_ALLOWED_ORIGINS."""
    folder = tmp_path_factory.mktemp("guards-env")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKWAY_ALLOWED_HOSTS", "from-env.example")
        patch.setenv("TRACKWAY_CORS_ALLOWED_ORIGINS", "https://env.example")
        proc = ServerProcess(
            f"sqlite:///{folder / 'trackway.db'}",
            (folder / "artifacts").as_uri(),
            folder / "server.log",
        )
    yield proc
    proc.close()


def _status(port: int, host: str, path: str = "/api/2.0/mlflow/experiments/search") -> int:
    return send(port, "GET", path, host=host).status


def test_the_names_of_this_machine_are_answered(default_server: RunningServer) -> None:
    port = default_server.http_port
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "localhost",
        f"LocalHost.:{port}",
        f"[::1]:{port}",
        "127.0.0.1",
        # An address literal cannot be rebound: the page came from that address.
        f"10.1.2.3:{port}",
        "[fe80::1]",
    ):
        assert _status(port, host) == 200, host
    assert _status(port, f"10.1.2.3:{port}", "/health") == 200


def test_a_request_without_a_host_header_is_answered(default_server: RunningServer) -> None:
    """HTTP/1.0 tools may send none; a browser always does, so rebinding needs one."""
    reply = send(default_server.http_port, "GET", "/health", host="")
    assert reply.status in (200, 400)  # the HTTP parser may insist on one itself
    assert reply.status != 403


def test_allowed_hosts_adds_names_and_subdomains(flagged: ServerProcess) -> None:
    port = flagged.http_port
    for host in (
        "trackway.internal",
        "trackway.internal:443",
        "a.corp.example",
        "x.a.corp.example",
    ):
        assert _status(port, host) == 200, host
    for host in (
        "corp.example",
        "trackway.internal.evil.example",
        "evilcorp.example",
        "evil.example",
    ):
        assert _status(port, host) == 403, host
    # The defaults still hold beside the flag.
    assert _status(port, f"localhost:{port}") == 200


def test_the_flags_are_read_from_the_environment(from_env: ServerProcess) -> None:
    port = from_env.http_port
    assert _status(port, "from-env.example") == 200
    assert _status(port, "other.example") == 403
    reply = send(port, "GET", "/health", headers={"Origin": "https://env.example"})
    assert reply.headers.get("access-control-allow-origin") == "https://env.example"


def test_an_allowed_origin_gets_cors_answers(flagged: ServerProcess) -> None:
    port = flagged.http_port
    for origin in (APP, f"{APP}:443", DEV):
        reply = send(port, "GET", "/api/2.0/mlflow/experiments/search", headers={"Origin": origin})
        assert reply.status == 200
        assert reply.headers["access-control-allow-origin"] == origin
        assert "origin" in reply.headers["vary"].lower()
        assert "x-request-id" in reply.headers["access-control-expose-headers"]
    preflight = send(
        port,
        "OPTIONS",
        "/v1/experiments",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == APP
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "content-type, authorization"
    made = send_json(port, "POST", "/v1/experiments", {"name": "from-app"}, headers={"Origin": APP})
    assert made.status == 200, made.body
    assert made.headers["access-control-allow-origin"] == APP


def test_other_origins_stay_out_when_some_are_allowed(flagged: ServerProcess) -> None:
    port = flagged.http_port
    for origin in (
        "https://evil.example",
        "http://app.example.com",
        "https://app.example.com:8443",
    ):
        reply = send(port, "GET", "/health", headers={"Origin": origin})
        assert "access-control-allow-origin" not in reply.headers, origin
        write = send_json(
            port, "POST", "/v1/experiments", {"name": "x"}, headers={"Origin": origin}
        )
        assert write.status == 403, origin
        preflight = send(
            port,
            "OPTIONS",
            "/v1/experiments",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status == 403


def test_the_ui_writes_from_its_own_origin(default_server: RunningServer) -> None:
    """The UI's page and its API calls share an origin, which a browser names in the
    Origin of every POST: those pass, by address or by name."""
    port = default_server.http_port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        reply = send_json(
            port,
            "POST",
            "/ajax-api/2.0/mlflow/experiments/create",
            {"name": f"ui-{host.split(':')[0]}"},
            host=host,
            headers={"Origin": f"http://{host}"},
        )
        assert reply.status == 200, (host, reply.body)
        assert "access-control-allow-origin" not in reply.headers


def test_json_and_raw_bodies_pass(default_server: RunningServer) -> None:
    port = default_server.http_port
    made = send(
        port,
        "POST",
        "/v1/experiments",
        body=b'{"name": "charset"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert made.status == 200, made.body
    # No Content-Type at all: what tools send (a browser that does also sends an Origin).
    unlabelled = send(port, "POST", "/v1/experiments", body=b'{"name": "unlabelled"}')
    assert unlabelled.status == 200, unlabelled.body
    eid = made.json()["experiment"]["experimentId"]  # type: ignore[index]
    run = send_json(port, "POST", "/v1/runs", {"experimentId": eid}).json()
    rid = run["run"]["info"]["runId"]  # type: ignore[index]
    # Artifact bytes are raw, of any type, text/plain included.
    put = send(
        port,
        "PUT",
        f"/v1/runs/{rid}/artifacts/notes.txt",
        body=b"hello",
        headers={"Content-Type": "text/plain"},
    )
    assert put.status == 200, put.body
    got = send(port, "GET", f"/v1/runs/{rid}/artifacts/notes.txt")
    assert got.body == b"hello"


def test_mlflows_client_works_behind_the_guards(
    default_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow  # a test dependency: never skipped

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{default_server.http_port}")
    eid = client.create_experiment(f"mlflow-guards-{os.urandom(4).hex()}")
    run = client.create_run(eid)
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_metric(run.info.run_id, "loss", 0.5)
    client.log_text(run.info.run_id, "hello", "notes/readme.txt")
    assert [f.path for f in client.list_artifacts(run.info.run_id, "notes")] == ["notes/readme.txt"]
    got = client.download_artifacts(run.info.run_id, "notes/readme.txt", str(tmp_path))
    assert Path(got).read_text() == "hello"
    client.delete_run(run.info.run_id)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--allowed-hosts", "bad host!"),
        ("--allowed-hosts", "http://example.com"),
        ("--cors-allowed-origins", "app.example.com"),
        ("--cors-allowed-origins", "https://app.example.com/path"),
        ("--cors-allowed-origins", "null"),
    ],
)
def test_a_bad_flag_value_stops_the_server_with_a_message(
    tmp_path: Path, flag: str, value: str
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackway.cli",
            "server",
            "--grpc-port",
            str(free_port()),
            "--http-port",
            "0",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'trackway.db'}",
            "--artifacts-destination",
            (tmp_path / "artifacts").as_uri(),
            flag,
            value,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert flag in done.stderr and "Traceback" not in done.stderr


def test_the_policy_from_its_parts() -> None:
    policy = GuardPolicy.parse("trackway.lan", "a.example, *.b.example, [2001:db8::1]:80", "")
    for name in ("trackway.lan", "a.example", "x.b.example", "2001:db8::1", "localhost", "::1"):
        assert policy.host_allowed(name), name
    for name in ("b.example", "a.example.evil", "lan", "xb.example"):
        assert not policy.host_allowed(name), name
    wildcard = GuardPolicy.parse("0.0.0.0", "", "")
    assert not wildcard.host_allowed("0.0.0.0.example")
    assert GuardPolicy.parse("127.0.0.1", "*", "").host_allowed("anything.example")
    anyone = GuardPolicy.parse("127.0.0.1", "", "*")
    assert anyone.origin_allowed(("https", "x.example", 443))
    assert not anyone.origin_allowed(None)  # `null` never, even with `*`
