"""TLS on both ports, and mTLS where the client certificate's CN names the user.

Certificates come from tests/auth/pki.py (a CA made with `cryptography` for the session).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import requests

from tests.auth.conftest import Secured, Stubs, bearer, secured_config
from tests.auth.pki import Pair, Pki
from trackway.auth.errors import Unauthenticated
from trackway.auth.settings import SecuritySettings
from trackway.client import TrackwayClient
from trackway.gen.admin.v1 import admin_service_pb2 as admin_pb
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.server.app import create_server


def secure_stubs(port: int, ca: Path, client: Pair | None = None, token: str = "") -> Stubs:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )
    channel = grpc.secure_channel(f"localhost:{port}", credentials)
    if token:
        from trackway.client.channel import BearerToken

        channel = grpc.intercept_channel(channel, BearerToken(token))
    return Stubs(channel)


@pytest.fixture
def tls_server(tmp_path: Path, certificates: Pki) -> Iterator[Secured]:
    running = create_server(
        secured_config(
            f"sqlite:///{tmp_path / 'tls.db'}",
            (tmp_path / "artifacts").as_uri(),
            tls_cert=str(certificates.server.cert),
            tls_key=str(certificates.server.key),
        )
    )
    found = Secured(running)
    found.user("root", admin=True)
    yield found
    running.stop(grace=1.0)


@pytest.fixture
def mtls_server(tmp_path: Path, certificates: Pki) -> Iterator[Secured]:
    running = create_server(
        secured_config(
            f"sqlite:///{tmp_path / 'mtls.db'}",
            (tmp_path / "artifacts").as_uri(),
            auth="mtls",
            tls_cert=str(certificates.server.cert),
            tls_key=str(certificates.server.key),
            tls_client_ca=str(certificates.ca),
        )
    )
    found = Secured(running)
    found.user("root", admin=True)
    found.user("alice")
    yield found
    running.stop(grace=1.0)


def test_tls_serves_grpc_and_https_and_refuses_plaintext(
    tls_server: Secured, certificates: Pki
) -> None:
    port, token = tls_server.running.port, tls_server.tokens["root"]
    stubs = secure_stubs(port, certificates.ca, token=token)
    eid = stubs.tracking.CreateExperiment(pb.CreateExperimentRequest(name="tls")).experiment
    with pytest.raises(grpc.RpcError) as caught:
        secure_stubs(port, certificates.ca).tracking.GetExperiment(
            pb.GetExperimentRequest(experiment_id=eid.experiment_id)
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with (
        grpc.insecure_channel(f"127.0.0.1:{port}") as plain,
        pytest.raises(grpc.RpcError) as caught,
    ):
        Stubs(plain).tracking.GetExperiment(
            pb.GetExperimentRequest(experiment_id=eid.experiment_id), metadata=bearer(token),
            timeout=5,
        )  # fmt: skip
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    base = f"https://localhost:{tls_server.running.http_port}"
    auth = {"authorization": f"Bearer {token}"}
    got = requests.get(
        f"{base}/api/2.0/mlflow/experiments/get",
        params={"experiment_id": eid.experiment_id},
        headers=auth,
        verify=str(certificates.ca),
        timeout=30,
    )
    assert got.json()["experiment"]["name"] == "tls"
    # /v1 reaches the servicers through the transcoder's private socket, still checked.
    v1 = f"{base}/v1/experiments/{eid.experiment_id}"
    assert requests.get(v1, headers=auth, verify=str(certificates.ca), timeout=30).ok
    assert requests.get(v1, verify=str(certificates.ca), timeout=30).status_code == 401
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{base}/health", timeout=30)  # the system CAs do not know ours


@pytest.mark.parametrize("scheme", ["grpcs", "https"])
def test_the_sdk_speaks_tls_with_trackway_tls_ca(
    tls_server: Secured, certificates: Pki, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("TRACKWAY_TLS_CA", str(certificates.ca))
    monkeypatch.setenv("TRACKWAY_TOKEN", tls_server.tokens["root"])
    running = tls_server.running
    port = running.port if scheme == "grpcs" else running.http_port
    with TrackwayClient(f"{scheme}://localhost:{port}", retry_seconds=0) as client:
        eid = client.create_experiment("over-tls")
        assert client.get_experiment(eid).name == "over-tls"
    monkeypatch.delenv("TRACKWAY_TOKEN")
    anonymous = TrackwayClient(f"{scheme}://localhost:{port}", retry_seconds=0)
    with anonymous, pytest.raises(Unauthenticated):
        anonymous.get_experiment(eid)


def test_mtls_maps_the_certificate_cn_to_a_user(mtls_server: Secured, certificates: Pki) -> None:
    port = mtls_server.running.port
    alice = secure_stubs(port, certificates.ca, certificates.clients["alice"])
    me = alice.admin.GetCurrentUser(admin_pb.GetCurrentUserRequest()).user
    assert me.name == "alice"
    eid = alice.tracking.CreateExperiment(pb.CreateExperimentRequest(name="alices")).experiment
    root = secure_stubs(port, certificates.ca, certificates.clients["root"])
    assert root.admin.GetCurrentUser(admin_pb.GetCurrentUserRequest()).user.name == "root"
    # A certificate whose CN is nobody here: known CA, unknown user.
    mallory = secure_stubs(port, certificates.ca, certificates.clients["mallory"])
    with pytest.raises(grpc.RpcError) as caught:
        mallory.tracking.GetExperiment(pb.GetExperimentRequest(experiment_id=eid.experiment_id))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # No certificate, or one from another CA: the handshake fails.
    for client in (None, certificates.stranger):
        stubs = secure_stubs(port, certificates.ca, client)
        with pytest.raises(grpc.RpcError) as caught:
            stubs.tracking.SearchExperiments(pb.SearchExperimentsRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    # A bearer token is no substitute for a certificate here.
    with pytest.raises(grpc.RpcError):
        secure_stubs(
            port, certificates.ca, token=mtls_server.tokens["root"]
        ).tracking.SearchExperiments(pb.SearchExperimentsRequest(), timeout=5)


def test_mtls_over_https_and_v1(mtls_server: Secured, certificates: Pki) -> None:
    base = f"https://localhost:{mtls_server.running.http_port}"
    alice = certificates.clients["alice"]
    cert = (str(alice.cert), str(alice.key))
    ca = str(certificates.ca)
    made = requests.post(
        f"{base}/api/2.0/mlflow/experiments/create",
        json={"name": "via-https"},
        cert=cert,
        verify=ca,
        timeout=30,
    )
    assert made.ok, made.text
    eid = made.json()["experiment_id"]
    # /v1 goes through the loopback socket without a certificate: the gate vouches.
    got = requests.get(f"{base}/v1/experiments/{eid}", cert=cert, verify=ca, timeout=30)
    assert got.json()["experiment"]["name"] == "via-https"
    me = requests.get(f"{base}/v1/users:current", cert=cert, verify=ca, timeout=30).json()
    assert me["user"]["name"] == "alice"
    mallory = certificates.clients["mallory"]
    refused = requests.get(
        f"{base}/v1/experiments/{eid}",
        cert=(str(mallory.cert), str(mallory.key)),
        verify=ca,
        timeout=30,
    )
    assert refused.status_code == 401
    # No client certificate: refused in the handshake (TLS 1.3 reports it as the
    # server closing the connection, an SSLError's parent class).
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{base}/health", verify=ca, timeout=30)


@pytest.mark.parametrize("scheme", ["grpcs", "https"])
def test_the_sdk_presents_a_client_certificate(
    mtls_server: Secured, certificates: Pki, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    alice = certificates.clients["alice"]
    monkeypatch.delenv("TRACKWAY_TOKEN", raising=False)
    monkeypatch.setenv("TRACKWAY_TLS_CA", str(certificates.ca))
    monkeypatch.setenv("TRACKWAY_TLS_CLIENT_CERT", str(alice.cert))
    monkeypatch.setenv("TRACKWAY_TLS_CLIENT_KEY", str(alice.key))
    running = mtls_server.running
    port = running.port if scheme == "grpcs" else running.http_port
    with TrackwayClient(f"{scheme}://localhost:{port}", retry_seconds=0) as client:
        eid = client.create_experiment("sdk-mtls")
        run = client.create_run(eid)
        assert client.get_run(run.info.run_id).info.experiment_id == eid


@pytest.mark.parametrize(
    ("settings", "host", "message"),
    [
        (SecuritySettings(), "0.0.0.0", "without authentication"),
        (SecuritySettings(), "", "without authentication"),
        (SecuritySettings(auth="mtls"), "127.0.0.1", "--tls-client-ca"),
        (SecuritySettings(auth="token", tls_cert="x.pem"), "127.0.0.1", "go together"),
        (SecuritySettings(auth="basic"), "127.0.0.1", "none, token, mtls"),
        (SecuritySettings(tls_client_ca="ca.pem"), "127.0.0.1", "needs --tls-cert"),
        (SecuritySettings(bootstrap_admin_token_file="t"), "127.0.0.1", "needs --auth"),
    ],
)
def test_settings_that_do_not_go_together_are_refused(
    settings: SecuritySettings, host: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        settings.check(host)


def test_an_open_server_may_only_listen_on_loopback_unless_told_otherwise() -> None:
    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"):
        SecuritySettings().check(host)
    SecuritySettings(insecure_allow_remote=True).check("0.0.0.0")
    SecuritySettings(auth="token").check("0.0.0.0")
    with pytest.raises(ValueError, match="relay"):
        SecuritySettings(auth="token").check("127.0.0.1", relay=True)
