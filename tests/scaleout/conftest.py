"""Scale-out fixtures: real `trackway server` processes (replicas) sharing one database
(the top-level `db_url`: PostgreSQL or MariaDB) and one S3 bucket (moto, from
TRACKWAY_TEST_S3_ENDPOINT, which `make test` starts).

Each replica gets a TMPDIR of its own, so that its upload staging folder
(`<tmpdir>/trackway-staging` for object-store roots) is as private as it would be on a
machine of its own. Without the S3 emulator the tests skip, except under CI=true.
"""

from __future__ import annotations

import os
import re
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from tests.support.procs import ServerProcess
from tests.support.required import service_url

S3_ENV = "TRACKWAY_TEST_S3_ENDPOINT"


def s3_endpoint() -> str:
    return service_url(S3_ENV, "moto")


@dataclass
class Bucket:
    endpoint: str
    name: str

    @property
    def root(self) -> str:
        return f"s3://{self.name}/artifacts"


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """A fresh bucket; the AWS settings go into the environment the servers inherit."""
    endpoint = s3_endpoint()
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for var in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(var, "")
        monkeypatch.setenv(var, ",".join(filter(None, [current, "127.0.0.1", "localhost"])))
    client = boto3.client("s3", endpoint_url=endpoint)
    name = f"tw-scale-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield Bucket(endpoint, name)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


Launch = Callable[..., ServerProcess]


@pytest.fixture
def launch(
    db_url: str, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Launch]:
    """Starts replicas: `launch("a")` is a server on the shared database and bucket, with
    a private temporary folder (or `tmpdir=` a given one, to share it)."""
    started: list[ServerProcess] = []

    def start(
        name: str, *, tmpdir: Path | None = None, args: tuple[str, ...] = ()
    ) -> ServerProcess:
        private = tmpdir or tmp_path / f"tmp-{name}"
        private.mkdir(parents=True, exist_ok=True)
        # ServerProcess hands the child this process's environment as it is now.
        with monkeypatch.context() as env:
            env.setenv("TMPDIR", str(private))
            server = ServerProcess(
                db_url,
                bucket.root,
                tmp_path / f"{name}.log",
                extra_args=["--s3-endpoint-url", bucket.endpoint, *args],
            )
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def in_flight_rpcs(server: ServerProcess) -> float:
    """The server's RPCs in progress (LogStreams among them), from its /metrics."""
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found = re.findall(r"^trackway_grpc_server_in_flight(?:\{[^}]*\})? (\S+)$", text, re.M)
    return sum(float(value) for value in found)
