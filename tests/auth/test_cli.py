"""`trackway users|tokens|permissions` and the first admin, against real server processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import ServerProcess


def trackway(*args: str, token: str = "", target: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    if token:
        env["TRACKWAY_TOKEN"] = token
    if target:
        env["TRACKWAY_TRACKING_URI"] = f"grpc://{target}"
    return subprocess.run(
        [sys.executable, "-m", "trackway.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_a_fresh_install_gets_its_first_admin_from_the_database(database: str) -> None:
    ok(trackway("users", "create", "ada", "--admin", "--backend-store-uri", database))
    secret = ok(trackway("tokens", "create", "--user", "ada", "--backend-store-uri", database))
    assert secret.strip().startswith("tw_") and len(secret.strip().splitlines()) == 1
    users = json.loads(ok(trackway("users", "list", "--json", "--backend-store-uri", database)))
    assert [(u["name"], u["role"]) for u in users] == [("ada", "admin")]
    done = trackway("users", "create", "ada", "--backend-store-uri", database)
    assert done.returncode == 1
    assert done.stderr.startswith("trackway: error:") and "already exists" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_users_tokens_and_permissions_through_the_server(database: str, tmp_path: Path) -> None:
    ok(trackway("users", "create", "ada", "--admin", "--backend-store-uri", database))
    admin = ok(
        trackway("tokens", "create", "--user", "ada", "--backend-store-uri", database)
    ).strip()
    server = ServerProcess(
        database, (tmp_path / "artifacts").as_uri(), tmp_path / "server.log",
        extra_args=["--auth", "token"],
    )  # fmt: skip
    try:
        target = server.target
        as_admin = {"token": admin, "target": target}
        me = json.loads(ok(trackway("users", "whoami", "--json", **as_admin)))
        assert me == [{"name": "ada", "role": "admin", "creation_time": me[0]["creation_time"]}]
        ok(trackway("users", "create", "bob", **as_admin))
        bob = ok(trackway("tokens", "create", "--user", "bob", "--description", "ci", **as_admin))
        as_bob = {"token": bob.strip(), "target": target}
        ok(trackway("experiments", "create", "shared", **as_admin))

        listed = json.loads(ok(trackway("experiments", "list", "--json", **as_bob)))
        assert listed == []
        ok(trackway("permissions", "grant", "--experiment", "shared", "--user", "bob",
                    "--permission", "read", **as_admin))  # fmt: skip
        grants = json.loads(
            ok(trackway("permissions", "list", "--experiment", "shared", "--json", **as_admin))
        )
        # The creator holds MANAGE, like every creator (admins included).
        assert grants == [
            {"user": "ada", "permission": "MANAGE"},
            {"user": "bob", "permission": "READ"},
        ]
        listed = json.loads(ok(trackway("experiments", "list", "--json", **as_bob)))
        assert [e["name"] for e in listed] == ["shared"]
        # READ does not let bob share it, nor rename it.
        done = trackway("permissions", "grant", "--experiment", "shared", "--user", "ada",
                        "--permission", "EDIT", **as_bob)  # fmt: skip
        assert done.returncode == 1 and "needs MANAGE" in done.stderr
        assert trackway("experiments", "rename", "shared", "mine", **as_bob).returncode == 1
        ok(trackway("permissions", "revoke", "--experiment", "shared", "--user", "bob", **as_admin))
        assert json.loads(ok(trackway("experiments", "list", "--json", **as_bob))) == []

        tokens = json.loads(ok(trackway("tokens", "list", "--json", **as_bob)))
        assert [t["description"] for t in tokens] == ["ci"]
        assert trackway("tokens", "list", "--user", "ada", **as_bob).returncode == 1
        ok(trackway("tokens", "revoke", tokens[0]["token_id"], **as_bob))
        done = trackway("experiments", "list", **as_bob)
        assert done.returncode == 1 and "not valid" in done.stderr
        done = trackway("experiments", "list", target=target)
        assert done.returncode == 1 and "requires authentication" in done.stderr
        ok(trackway("users", "delete", "bob", **as_admin))
        names = [u["name"] for u in json.loads(ok(trackway("users", "list", "--json", **as_admin)))]
        assert names == ["ada"]
    finally:
        server.close()


def test_the_bootstrap_token_file_makes_the_first_admin_once(database: str, tmp_path: Path) -> None:
    token_file = tmp_path / "secrets" / "admin-token"
    args = ["--auth", "token", "--bootstrap-admin-token-file", str(token_file)]
    for attempt in range(2):
        server = ServerProcess(
            database, (tmp_path / "artifacts").as_uri(), tmp_path / f"server{attempt}.log",
            extra_args=args,
        )  # fmt: skip
        try:
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            token = token_file.read_text().strip()
            as_admin = {"token": token, "target": server.target}
            me = json.loads(ok(trackway("users", "whoami", "--json", **as_admin)))
            assert (me[0]["name"], me[0]["role"]) == ("admin", "admin")
            assert len(json.loads(ok(trackway("tokens", "list", "--json", **as_admin)))) == 1
        finally:
            server.close()
    assert token not in (tmp_path / "server0.log").read_text()


def test_a_given_bootstrap_token_is_registered(database: str, tmp_path: Path) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text("tw_" + "k" * 43 + "\n")
    server = ServerProcess(
        database, (tmp_path / "artifacts").as_uri(), tmp_path / "server.log",
        extra_args=["--auth", "token", "--bootstrap-admin-token-file", str(token_file)],
    )  # fmt: skip
    try:
        me = ok(trackway("users", "whoami", token="tw_" + "k" * 43, target=server.target))
        assert "admin" in me
    finally:
        server.close()


def test_an_open_server_refuses_a_public_address(database: str) -> None:
    done = trackway(
        "server", "--host", "0.0.0.0", "--grpc-port", "0", "--http-port", "-1",
        "--backend-store-uri", database,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "trackway: error: refusing to serve on 0.0.0.0 without authentication: use --auth "
        "token (or mtls), or --insecure-allow-remote if something else guards this port"
    ]
