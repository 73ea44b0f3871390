"""MlflowClient against Trackway: experiments, run search and paging, long histories."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.rest.conftest import Gateway, unique


def test_create_get_search_experiments(client: Any) -> None:
    from mlflow.entities import ViewType

    prefix = unique("exp")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(3)]
    got = client.get_experiment(ids[1])
    assert got.name == f"{prefix}-1" and got.tags == {"i": "1"}
    assert got.lifecycle_stage == "active"
    assert got.artifact_location == f"mlflow-artifacts:/{ids[1]}"
    assert client.get_experiment_by_name(f"{prefix}-2").experiment_id == ids[2]
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name"])
    assert [e.experiment_id for e in found] == ids
    client.rename_experiment(ids[0], f"{prefix}-renamed")
    client.set_experiment_tag(ids[0], "k", "v")
    assert client.get_experiment(ids[0]).tags["k"] == "v"
    client.delete_experiment(ids[0])
    deleted = client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}-%'"
    )
    assert [e.experiment_id for e in deleted] == [ids[0]]
    client.restore_experiment(ids[0])
    assert client.get_experiment(ids[0]).lifecycle_stage == "active"
    page = client.search_experiments(
        max_results=2, filter_string=f"name LIKE '{prefix}-%'", order_by=["name"]
    )
    assert len(page) == 2 and page.token
    rest = client.search_experiments(
        max_results=2,
        filter_string=f"name LIKE '{prefix}-%'",
        order_by=["name"],
        page_token=page.token,
    )
    assert len(rest) == 1 and not rest.token


def test_search_runs_filters_order_and_pages(client: Any) -> None:
    exp = client.create_experiment(unique("search"))
    run_ids = []
    for i in range(7):
        run = client.create_run(exp, run_name=f"r{i}", tags={"parity": str(i % 2)})
        client.log_metric(run.info.run_id, "score", float(i), step=0)
        client.log_param(run.info.run_id, "lr", str(i / 10))
        run_ids.append(run.info.run_id)
    client.set_terminated(run_ids[0], "FAILED")
    best = client.search_runs([exp], "metrics.score > 2", order_by=["metrics.score DESC"])
    assert [r.info.run_id for r in best] == run_ids[:2:-1]
    odd = client.search_runs([exp], "tags.parity = '1' and params.lr != '0.1'")
    assert {r.info.run_id for r in odd} == {run_ids[3], run_ids[5]}
    failed = client.search_runs([exp], "attributes.status = 'FAILED'")
    assert [r.info.run_id for r in failed] == [run_ids[0]]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = client.search_runs(
            [exp], "", order_by=["metrics.score ASC"], max_results=3, page_token=token
        )
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert seen == run_ids and pages == 3
    frame = __import__("mlflow").search_runs([exp], order_by=["metrics.score DESC"])
    assert list(frame["run_id"]) == run_ids[::-1]
    assert list(frame["metrics.score"]) == [float(i) for i in range(6, -1, -1)]


def test_metric_history_pages_at_25000(client: Any, gateway: Gateway) -> None:
    from mlflow.entities import Metric

    exp = client.create_experiment(unique("history"))
    run_id = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    total = 30_000
    for start in range(0, total, 1000):
        metrics = [Metric("long", float(s), now + s, s) for s in range(start, start + 1000)]
        client.log_batch(run_id, metrics=metrics)
    history = client.get_metric_history(run_id, "long")
    assert len(history) == total
    assert [m.step for m in history[:3]] == [0, 1, 2] and history[-1].value == total - 1
    first = gateway.call(
        "GET", "mlflow/metrics/get-history", run_id=run_id, metric_key="long", max_results=25000
    ).json()
    assert len(first["metrics"]) == 25_000 and first["next_page_token"]
    second = gateway.call(
        "GET",
        "mlflow/metrics/get-history",
        run_id=run_id,
        metric_key="long",
        max_results=25000,
        page_token=first["next_page_token"],
    ).json()
    assert len(second["metrics"]) == 5_000 and "next_page_token" not in second
    bulk = gateway.call(
        "GET",
        "mlflow/metrics/get-history-bulk-interval",
        run_ids=[run_id],
        metric_key="long",
        max_results=100,
    ).json()["metrics"]
    steps = [m["step"] for m in bulk]
    assert steps[0] == 0 and steps[-1] == total - 1 and len(bulk) <= 102
    assert all(m["run_id"] == run_id for m in bulk)
    ranged = gateway.call(
        "GET",
        "mlflow/metrics/get-history-bulk-interval",
        run_ids=[run_id],
        metric_key="long",
        start_step=1000,
        end_step=2000,
        max_results=100,
    ).json()["metrics"]
    assert all(1000 <= m["step"] <= 2000 for m in ranged)


def test_list_and_download_artifacts(client: Any, tmp_path: Path) -> None:
    exp = client.create_experiment(unique("files"))
    run_id = client.create_run(exp).info.run_id
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "src" / "top.bin").write_bytes(bytes(range(256)) * 4096)
    (tmp_path / "src" / "deep" / "x.txt").write_text("x")
    client.log_artifacts(run_id, str(tmp_path / "src"), artifact_path="out")
    listed = {f.path: (f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "out")}
    assert listed == {"out/deep": (True, None), "out/top.bin": (False, 1 << 20)}
    local = client.download_artifacts(run_id, "out/top.bin", str(tmp_path / "dl"))
    assert Path(local).read_bytes() == (tmp_path / "src" / "top.bin").read_bytes()
    assert client.list_artifacts(run_id, "missing") == []
