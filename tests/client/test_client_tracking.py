"""TrackwayClient over TrackingService: one method per RPC, typed errors, retries."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.client.conftest import server_config
from tests.support.procs import free_port
from trackway.client import Dataset, DatasetInput, Metric, TrackwayClient
from trackway.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from trackway.server.app import RunningServer, create_server


def _name() -> str:
    return f"e-{uuid.uuid4().hex[:8]}"


def test_experiment_lifecycle(client: TrackwayClient) -> None:
    name = _name()
    eid = client.create_experiment(name, tags={"team": "nlp"})
    exp = client.get_experiment(eid)
    assert (exp.name, exp.lifecycle_stage, exp.tags) == (name, "active", {"team": "nlp"})
    assert client.get_experiment_by_name(name).experiment_id == eid
    renamed = client.rename_experiment(eid, name + "-x")
    assert renamed.name == name + "-x"
    client.set_experiment_tag(eid, "k", "v")
    client.delete_experiment_tag(eid, "team")
    assert client.get_experiment(eid).tags == {"k": "v"}
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert eid in [e.experiment_id for e in client.search_experiments(view_type="deleted")]
    client.restore_experiment(eid)
    client.delete_experiment(eid)
    assert client.purge_experiment(eid) == 0
    with pytest.raises(NotFound):
        client.get_experiment(eid)


def test_search_experiments_pages(client: TrackwayClient) -> None:
    prefix = uuid.uuid4().hex[:6]
    for i in range(5):
        client.create_experiment(f"{prefix}-{i}")
    seen: list[str] = []
    token = ""
    while True:
        page = client.search_experiments(
            f"name LIKE '{prefix}%'", order_by=["name ASC"], max_results=2, page_token=token
        )
        seen.extend(e.name for e in page)
        token = page.token
        if not token:
            break
    assert seen == [f"{prefix}-{i}" for i in range(5)]


def test_run_lifecycle_and_logging(client: TrackwayClient) -> None:
    eid = client.create_experiment(_name())
    run = client.create_run(eid, "first", tags={"a": 1}, user_id="me")
    rid = run.info.run_id
    assert (run.info.run_name, run.info.status, run.info.user_id) == ("first", "RUNNING", "me")
    client.log_param(rid, "lr", 0.01)
    client.log_metric(rid, "loss", 1.5, step=3)
    client.log_batch(
        rid,
        metrics=[Metric("loss", 1.0, 4, 1000), Metric("acc", 0.9, 4, 1000)],
        params={"depth": 3},
        tags=[("stage", "train")],
    )
    client.set_tag(rid, "x", "y")
    client.delete_tag(rid, "x")
    client.log_inputs(rid, [DatasetInput(Dataset("mnist", "abc123", "s3://d"), {"ctx": "train"})])
    got = client.get_run(rid)
    assert got.data.params == {"lr": "0.01", "depth": "3"}
    assert got.data.metrics == {"loss": 1.0, "acc": 0.9}
    assert got.data.tags["stage"] == "train" and "x" not in got.data.tags
    assert got.inputs[0].dataset.name == "mnist" and got.inputs[0].tags == {"ctx": "train"}
    info = client.update_run(rid, name="renamed")
    assert info.run_name == "renamed"
    ended = client.set_terminated(rid, "FAILED")
    assert ended.status == "FAILED" and ended.end_time
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"


def test_child_runs_record_their_parent(client: TrackwayClient) -> None:
    eid = client.create_experiment(_name())
    parent = client.create_run(eid).info.run_id
    child = client.create_run(eid, parent_run_id=parent)
    assert child.info.parent_run_id == parent


def test_metric_history_reads_every_page(client: TrackwayClient, run_id: str) -> None:
    logger = client.logger
    for step in range(120_000):
        logger.log_metric(run_id, "loss", step * 0.5, step, 1000 + step)
    logger.flush()
    points = client.get_metric_history(run_id, "loss")
    assert len(points) == 120_000
    assert points[0] == Metric("loss", 0.0, 0, 1000)
    assert [p.step for p in points] == list(range(120_000))
    sampled = client.get_metric_history(run_id, "loss", max_points=100)
    assert 2 <= len(sampled) <= 100
    bulk = client.get_metric_history_bulk([run_id], "loss", max_points=50)
    assert list(bulk) == [run_id] and len(bulk[run_id]) <= 50


def test_search_runs_filters_and_pages(client: TrackwayClient) -> None:
    eid = client.create_experiment(_name())
    ids = []
    for i in range(5):
        rid = client.create_run(eid, f"r{i}").info.run_id
        client.log_metric(rid, "score", float(i))
        ids.append(rid)
    page = client.search_runs([eid], "metrics.score >= 3", order_by=["metrics.score DESC"])
    assert [r.info.run_name for r in page] == ["r4", "r3"]
    first = client.search_runs([eid], max_results=2)
    assert len(first) == 2 and first.token
    rest = client.search_runs([eid], max_results=10, page_token=first.token)
    assert len(rest) == 3
    info_only = client.search_runs([eid], info_only=True)
    assert all(not r.data.metrics for r in info_only)


def test_errors_are_typed_with_details(client: TrackwayClient) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        client.get_run("0" * 32)
    with pytest.raises(InvalidArgument) as bad:
        client.create_experiment("")
    assert bad.value.violations and bad.value.violations[0].field == "name"
    assert bad.value.metadata["reason"] == "INVALID_PARAMETER_VALUE"
    name = _name()
    client.create_experiment(name)
    with pytest.raises(AlreadyExists):
        client.create_experiment(name)
    eid = client.create_experiment(_name())
    rid = client.create_run(eid).info.run_id
    client.log_param(rid, "p", "1")
    with pytest.raises(FailedPrecondition):
        client.log_param(rid, "p", "2")


def test_unreachable_server_is_unavailable() -> None:
    dead = TrackwayClient(f"127.0.0.1:{free_port()}", retry_seconds=0)
    with dead, pytest.raises(Unavailable, match="cannot reach the tracking server"):
        dead.get_experiment("1")


def test_calls_retry_until_the_server_comes_up(tmp_path: object) -> None:
    """A write made while the server is down lands exactly once when it comes up."""
    from pathlib import Path

    root = Path(str(tmp_path))
    port = free_port()
    started: list[RunningServer] = []

    def start_later() -> None:
        time.sleep(1.5)
        config = server_config(f"sqlite:///{root / 'late.db'}", (root / "artifacts").as_uri())
        config.grpc_port = port
        started.append(create_server(config))

    threading.Thread(target=start_later).start()
    with TrackwayClient(f"127.0.0.1:{port}", retry_seconds=30) as late:
        eid = late.create_experiment("late")
        assert late.get_experiment(eid).name == "late"
        assert len(late.search_experiments()) == 1
    started[0].stop(1.0)


def test_one_client_is_safe_across_threads(client: TrackwayClient) -> None:
    eid = client.create_experiment(_name())
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            rid = client.create_run(eid, f"t{i}").info.run_id
            for step in range(200):
                client.logger.log_metric(rid, "m", step, step)
            client.log_param(rid, "i", i)
            client.flush()
            assert len(client.get_metric_history(rid, "m")) == 200
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(client.search_runs([eid])) == 8
