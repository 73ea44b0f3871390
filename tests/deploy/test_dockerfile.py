"""The Dockerfile (no Docker engine runs here, so it is read, not built): slim, non-root,
and its CMD and HEALTHCHECK run commands that the CLI has; `trackway health` works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from typing import Any

from tests.deploy.conftest import ROOT, command_words, dockerfile
from tests.support.procs import free_port
from trackway.config import env_name
from trackway.server.app import RunningServer


def _final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _args() -> dict[str, str]:
    found = {}
    for word, rest in dockerfile():
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            found[key] = value
    return found


def _env() -> dict[str, str]:
    found = {}
    for word, rest in _final_stage():
        if word == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                found[key] = value
    return found


def test_the_base_is_slim_python() -> None:
    bases = [rest.split()[0] for word, rest in dockerfile() if word == "FROM"]
    images = [_args().get(b[2:-1], b) if b.startswith("${") else b for b in bases]
    assert images and all(re.fullmatch(r"python:3\.1[0-9]-slim(-\w+)?", i) for i in images), images


def test_it_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for word, rest in _final_stage() if word == "USER"]
    assert users, "no USER: the container would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so runAsNonRoot can verify it


def test_it_installs_the_package_with_extras_that_exist() -> None:
    extras = _args()["EXTRAS"].split(",")
    assert set(extras) <= set(metadata.metadata("trackway").get_all("Provides-Extra") or ()), extras
    runs = " ".join(rest for word, rest in dockerfile() if word == "RUN")
    assert 'pip install ".[${EXTRAS}]"' in runs


def test_the_build_context_keeps_what_the_build_copies() -> None:
    allowed = (ROOT / ".dockerignore").read_text().splitlines()
    copied = set()
    for word, rest in dockerfile():
        if word == "COPY" and not rest.startswith("--from"):
            copied |= set(rest.split()[:-1])
    assert copied == {"pyproject.toml", "README.md", "src"}
    assert "*" in allowed
    for path in copied:
        assert f"!{path}" in allowed or f"!{path}/" in allowed, path


def test_cmd_and_healthcheck_are_real_commands(parse_trackway: Any) -> None:
    final = dict(_final_stage())
    entrypoint = command_words(final["ENTRYPOINT"])
    command = entrypoint + command_words(final["CMD"])
    assert parse_trackway(command).command == "server"
    healthcheck = final["HEALTHCHECK"]
    words = command_words(healthcheck[healthcheck.index("CMD ") + 4 :])
    assert parse_trackway(words).command == "health"


def test_it_listens_on_every_interface_and_exposes_both_ports(parse_trackway: Any) -> None:
    env = _env()
    assert env["TRACKWAY_HOST"] == "0.0.0.0"
    exposed = {int(p) for word, rest in _final_stage() if word == "EXPOSE" for p in rest.split()}
    assert exposed == {int(env["TRACKWAY_GRPC_PORT"]), int(env["TRACKWAY_HTTP_PORT"])}
    server_flags = vars(parse_trackway(["trackway", "server"]))
    known = {env_name("--" + k.replace("_", "-")) for k in server_flags}
    assert {k for k in env if k.startswith("TRACKWAY_")} <= known


def _health(*args: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trackway.cli", "health", *args],
        env={**os.environ, "TRACKWAY_GRPC_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_trackway_health_passes_on_a_serving_server(server: RunningServer) -> None:
    result = _health("--timeout", "4", port=server.port)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SERVING"
    by_service = _health("--service", "trackway.tracking.v1.TrackingService", port=server.port)
    assert by_service.returncode == 0, by_service.stderr


def test_trackway_health_fails_with_one_line_when_nothing_answers() -> None:
    result = _health("--timeout", "1", port=free_port())
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trackway: error: 127.0.0.1:"), lines
