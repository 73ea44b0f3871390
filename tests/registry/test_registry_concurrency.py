"""Concurrent CreateModelVersion never hands out one number twice.

On one server, every write goes through the group-commit writer; across servers sharing
a PostgreSQL database, the per-model counter (`UPDATE ... RETURNING` in the inserting
transaction) serialises creators on the model row. Each creator is a thread with its own
channel, released together by a barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import _drop_postgres_database, _fresh_postgres_database
from tests.registry.conftest import Api, create_model, get_version, start_server
from tests.test_tracking_rpcs import EXISTS, check_error
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1.model_registry_service_pb2_grpc import ModelRegistryServiceStub
from trackway.server.app import RunningServer

CREATORS = 16


def _race(
    ports: list[int], count: int, call: Callable[[ModelRegistryServiceStub, int], Any]
) -> list[Any]:
    """Runs `call(stub, i)` from `count` threads at once, thread i on ports[i % len(ports)];
    returns each result or the exception it raised."""
    barrier = threading.Barrier(count)

    def one(i: int) -> Any:
        with grpc.insecure_channel(f"127.0.0.1:{ports[i % len(ports)]}") as channel:
            stub = ModelRegistryServiceStub(channel)
            grpc.channel_ready_future(channel).result(timeout=10)
            barrier.wait(timeout=30)
            try:
                return call(stub, i)
            except grpc.RpcError as exc:
                return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _create(name: str, root: str) -> Callable[[ModelRegistryServiceStub, int], int]:
    def call(stub: ModelRegistryServiceStub, i: int) -> int:
        request = pb.CreateModelVersionRequest(name=name, source=f"{root}/creator-{i}")
        return int(stub.CreateModelVersion(request).model_version.version)

    return call


def test_parallel_creators_get_distinct_consecutive_versions(api: Api) -> None:
    create_model(api.registry, "contended")
    versions = _race([api.server.port], CREATORS, _create("contended", api.root))
    assert sorted(versions) == list(range(1, CREATORS + 1)), versions
    # Each creator's version holds that creator's source.
    for i, number in enumerate(versions):
        assert get_version(api.registry, "contended", number).source == f"{api.root}/creator-{i}"


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer, str]]:
    """Two in-process servers (replicas) on one fresh PostgreSQL database."""
    url, name = _fresh_postgres_database()
    root = (tmp_path / "artifacts").as_uri()
    first = start_server(url, root)
    second = start_server(url, root)
    yield first, second, root
    first.stop(grace=1.0)
    second.stop(grace=1.0)
    _drop_postgres_database(name)


def test_two_replicas_on_postgresql_never_hand_out_a_version_twice(
    two_servers: tuple[RunningServer, RunningServer, str],
) -> None:
    first, second, root = two_servers
    ports = [first.port, second.port]
    with grpc.insecure_channel(f"127.0.0.1:{first.port}") as channel:
        stub = ModelRegistryServiceStub(channel)
        create_model(stub, "shared")
        numbers: list[int] = []
        for _ in range(4):  # four rounds of 16 creators spread across both replicas
            numbers += _race(ports, CREATORS, _create("shared", root))
        assert sorted(numbers) == list(range(1, 4 * CREATORS + 1)), numbers
        listed = stub.SearchModelVersions(pb.SearchModelVersionsRequest(filter="name = 'shared'"))
        assert len(listed.model_versions) == 4 * CREATORS


def test_two_replicas_interleaving_several_models(
    two_servers: tuple[RunningServer, RunningServer, str],
) -> None:
    """Creators that touch several models in different orders, in groups committed by two
    writers, may deadlock in PostgreSQL; the store runs such a write again."""
    first, second, root = two_servers
    models = ["m0", "m1", "m2", "m3"]
    with grpc.insecure_channel(f"127.0.0.1:{first.port}") as channel:
        for name in models:
            create_model(ModelRegistryServiceStub(channel), name)

    def call(stub: ModelRegistryServiceStub, i: int) -> list[tuple[str, int]]:
        order = models if i % 2 else list(reversed(models))
        made = []
        for name in order:
            request = pb.CreateModelVersionRequest(name=name, source=f"{root}/{name}/{i}")
            made.append((name, int(stub.CreateModelVersion(request).model_version.version)))
        return made

    results = _race([first.port, second.port], CREATORS, call)
    for result in results:
        assert isinstance(result, list), result
    for name in models:
        numbers = sorted(v for result in results for n, v in result if n == name)
        assert numbers == list(range(1, CREATORS + 1)), (name, numbers)


def test_two_replicas_creating_one_name_make_one_model(
    two_servers: tuple[RunningServer, RunningServer, str],
) -> None:
    first, second, _ = two_servers

    def call(stub: ModelRegistryServiceStub, i: int) -> str:
        request = pb.CreateRegisteredModelRequest(name="once", description=f"creator {i}")
        return str(stub.CreateRegisteredModel(request).registered_model.name)

    results = _race([first.port, second.port], 8, call)
    assert results.count("once") == 1, results
    for result in results:
        if result != "once":
            check_error(result, EXISTS, says="once")
