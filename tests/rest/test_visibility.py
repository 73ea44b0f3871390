"""One store behind two doors: what gRPC writes, REST reads, and the other way round."""

from __future__ import annotations

import time
from typing import Any

from tests.rest.conftest import Gateway, unique
from trackway.gen.registry.v1 import model_registry_service_pb2 as rpb
from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb


def test_grpc_writes_are_visible_over_rest(gateway: Gateway, client: Any) -> None:
    exp = gateway.tracking.CreateExperiment(pb.CreateExperimentRequest(name=unique("vis")))
    eid = exp.experiment.experiment_id
    run = gateway.tracking.CreateRun(pb.CreateRunRequest(experiment_id=eid, run_name="g"))
    run_id = run.run.info.run_id
    now = int(time.time() * 1000)
    gateway.tracking.LogBatch(
        pb.LogBatchRequest(
            run_id=run_id,
            metrics=[
                metric_pb2.Metric(key="m", value=float(s), timestamp=now, step=s) for s in range(5)
            ],
            params=[run_pb2.Param(key="p", value="1")],
            tags=[run_pb2.RunTag(key="t", value="x")],
        )
    )
    seen = client.get_run(run_id)
    assert seen.info.run_name == "g" and seen.info.experiment_id == eid
    assert seen.data.metrics == {"m": 4.0} and seen.data.params == {"p": "1"}
    assert seen.data.tags["t"] == "x"
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [r.info.run_id for r in client.search_runs([eid])] == [run_id]
    gateway.registry.CreateRegisteredModel(rpb.CreateRegisteredModelRequest(name=f"g-{run_id}"))
    assert client.get_registered_model(f"g-{run_id}").name == f"g-{run_id}"


def test_rest_writes_are_visible_over_grpc(gateway: Gateway, client: Any) -> None:
    eid = client.create_experiment(unique("vis"), tags={"k": "v"})
    run = client.create_run(eid, run_name="r", tags={"t": "1"})
    run_id = run.info.run_id
    client.log_param(run_id, "p", "2")
    client.log_metric(run_id, "m", 0.5, step=3)
    client.set_terminated(run_id, "KILLED")
    got = gateway.tracking.GetRun(pb.GetRunRequest(run_id=run_id)).run
    assert got.info.experiment_id == eid and got.info.run_name == "r"
    assert got.info.status == run_pb2.RUN_STATUS_KILLED
    assert {p.key: p.value for p in got.data.params} == {"p": "2"}
    assert [(m.key, m.value, m.step) for m in got.data.metrics] == [("m", 0.5, 3)]
    assert {t.key: t.value for t in got.data.tags}["t"] == "1"
    exp = gateway.tracking.GetExperiment(pb.GetExperimentRequest(experiment_id=eid)).experiment
    assert {t.key: t.value for t in exp.tags} == {"k": "v"}
    assert exp.artifact_location == f"{gateway.root}/{eid}"
    assert got.info.artifact_uri == f"{gateway.root}/{eid}/{run_id}/artifacts"
    client.create_registered_model(f"r-{run_id}")
    model = gateway.registry.GetRegisteredModel(rpb.GetRegisteredModelRequest(name=f"r-{run_id}"))
    assert model.registered_model.name == f"r-{run_id}"
