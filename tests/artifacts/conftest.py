"""Fixtures for the artifact repository contract: one fresh, empty repository per test on
each backend, the object stores served by real emulators on 127.0.0.1.

The fixtures are `repo_backend` (a Backend) and `artifact_repo` (its repository); the
names differ from the top-level `backend` fixture (sqlite/postgresql) on purpose.

The emulators come from `scripts/test-services.sh` (`make test` starts them) through
  TRACKWAY_TEST_S3_ENDPOINT               moto in server mode
  TRACKWAY_TEST_GCS_EMULATOR              gcp-storage-emulator
  TRACKWAY_TEST_AZURE_CONNECTION_STRING   Azurite (blob service)
Without one, that backend's cases skip, except under CI=true, where it is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.required import service_url
from trackway.artifacts.repos import open_repository
from trackway.artifacts.repository import ArtifactRepository

S3_ENV = "TRACKWAY_TEST_S3_ENDPOINT"
GCS_ENV = "TRACKWAY_TEST_GCS_EMULATOR"
AZURE_ENV = "TRACKWAY_TEST_AZURE_CONNECTION_STRING"
BACKENDS = ["local", "s3", "gcs", "azure"]
PREFIX = "exp/1/run-a/artifacts"


def emulator(env: str) -> str:
    return service_url(env, "the emulator")


@dataclass
class Backend:
    """A fresh repository plus what the backend-specific checks need."""

    name: str
    repo: ArtifactRepository
    raw: Any = None
    bucket: str = ""
    key_prefix: str = PREFIX
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def key(self, path: str) -> str:
        return f"{self.key_prefix}/{path}"


def _name() -> str:
    return f"tw-{uuid.uuid4().hex[:20]}"


def _local(tmp_path: Path) -> Backend:
    root = tmp_path / "root"
    return Backend("local", open_repository(root.as_uri()), raw=root, key_prefix="")


def _s3(monkeypatch: pytest.MonkeyPatch, staging: Path) -> Backend:
    endpoint = emulator(S3_ENV)
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = _name()
    repo = open_repository(
        f"s3://{bucket}/{PREFIX}", s3_endpoint_url=endpoint, staging_root=staging
    )
    client = repo._client  # type: ignore[attr-defined]
    client.create_bucket(Bucket=bucket)
    backend = Backend("s3", repo, raw=client, bucket=bucket)

    def drop() -> None:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)

    backend.cleanup.append(drop)
    return backend


def _gcs(monkeypatch: pytest.MonkeyPatch, staging: Path) -> Backend:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator(GCS_ENV))
    bucket = _name()
    repo = open_repository(f"gs://{bucket}/{PREFIX}", staging_root=staging)
    client = repo._client  # type: ignore[attr-defined]
    client.create_bucket(bucket)
    backend = Backend("gcs", repo, raw=client, bucket=bucket)
    backend.cleanup.append(lambda: client.bucket(bucket).delete(force=True))
    return backend


def _azure(monkeypatch: pytest.MonkeyPatch, staging: Path) -> Backend:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", emulator(AZURE_ENV))
    container = _name()
    account = "devstoreaccount1"
    uri = f"wasbs://{container}@{account}.blob.core.windows.net/{PREFIX}"
    repo = open_repository(uri, staging_root=staging)
    client = repo._container  # type: ignore[attr-defined]
    client.create_container()
    backend = Backend("azure", repo, raw=client, bucket=container)
    backend.cleanup.append(client.delete_container)
    return backend


def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulators are on loopback: never send their traffic to a configured proxy."""
    for var in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(var, "")
        monkeypatch.setenv(var, ",".join(filter(None, [current, "127.0.0.1", "localhost"])))


@pytest.fixture(params=BACKENDS)
def repo_backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    name = str(request.param)
    staging = tmp_path / "staging"
    _no_proxy(monkeypatch)
    made = _local(tmp_path) if name == "local" else globals()[f"_{name}"](monkeypatch, staging)
    yield made
    for step in made.cleanup:
        try:
            step()
        except Exception as exc:  # cleanup must not hide the test's own outcome
            print(f"cleanup of the {name} test bucket failed: {exc!r}")


@pytest.fixture
def artifact_repo(repo_backend: Backend) -> ArtifactRepository:
    return repo_backend.repo
