"""Fixtures for the HTTP/JSON transcoding of the native API: a server with its HTTP port
on, per backend, and a small client that speaks to `/v1/` with requests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import requests

from trackway.config import ServerConfig
from trackway.server.app import RunningServer, create_server

for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))


@dataclass
class Api:
    """A running server's HTTP base URL and a gRPC channel to the same server."""

    server: RunningServer
    url: str
    channel: grpc.Channel

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """One request; `body` is sent as JSON, `kwargs` go to requests (params, data...)."""
        if body is not None:
            kwargs["json"] = body
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.url + path, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """A call that must succeed; its JSON answer."""
        reply = self.call(method, path, body, **kwargs)
        assert reply.status_code == 200, (method, path, reply.status_code, reply.text)
        return reply.json()


def start(db_url: str, artifact_root: str, **settings: Any) -> RunningServer:
    """A server in this process with its HTTP port on."""
    return create_server(
        ServerConfig(
            host="127.0.0.1",
            grpc_port=0,
            http_port=0,
            backend_store_uri=db_url,
            artifacts_destination=artifact_root,
            threads=16,
            **settings,
        )
    )


@pytest.fixture
def api(db_url: str, artifact_root: str) -> Iterator[Api]:
    """A server on the `backend` fixture's store (SQLite and PostgreSQL)."""
    running = start(db_url, artifact_root)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield Api(running, f"http://127.0.0.1:{running.http_port}", channel)
    running.stop(grace=1.0)


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One SQLite server for a module's store-independent tests (routing, errors)."""
    folder = tmp_path_factory.mktemp("transcoding")
    running = start(f"sqlite:///{folder / 'trackway.db'}", (folder / "artifacts").as_uri())
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield Api(running, f"http://127.0.0.1:{running.http_port}", channel)
    running.stop(grace=1.0)
