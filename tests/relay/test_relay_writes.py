"""A relay in front of a central server: writes are spooled, checked and forwarded in order,
exactly once; what central refuses is set aside with its reason."""

from __future__ import annotations

import uuid

import grpc
import pytest

from tests.relay.conftest import wait_drained
from tests.support.streams import POINTS_PER_BATCH, StreamWriter, batch
from trackway.client import TrackwayClient
from trackway.client.entities import Dataset, DatasetInput, Metric
from trackway.config import ServerConfig
from trackway.errors import InvalidArgument
from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.relay.server import RunningRelay, create_relay
from trackway.server.app import RunningServer


def _central(server: RunningServer) -> TrackwayClient:
    return TrackwayClient(f"grpc://127.0.0.1:{server.port}", retry_seconds=0)


def _new_run(client: TrackwayClient) -> str:
    experiment_id = client.create_experiment(f"relay-{uuid.uuid4().hex[:8]}")
    return client.create_run(experiment_id).info.run_id


def test_every_write_kind_reaches_central_in_order(
    relay: RunningRelay, relay_client: TrackwayClient, server: RunningServer
) -> None:
    run_id = _new_run(relay_client)
    relay_client.log_param(run_id, "lr", 0.01)
    relay_client.set_tag(run_id, "team", "vision")
    relay_client.set_tag(run_id, "stale", "yes")
    relay_client.delete_tag(run_id, "stale")  # after its SetTag, as it was sent
    relay_client.log_metric(run_id, "acc", 0.5, step=1, timestamp=1_000)
    relay_client.log_batch(
        run_id,
        metrics=[Metric("acc", 0.75, 2, 2_000), Metric("loss", 0.25, 2, 2_000)],
        params={"depth": 6},
        tags={"stage": "train"},
    )
    relay_client.log_inputs(
        run_id, [DatasetInput(Dataset(name="mnist", digest="abc123", source_type="local"))]
    )
    for step in range(1_000):
        relay_client.logger.log_metric(run_id, "loss", 1.0 / (step + 1), step=step + 10)
    relay_client.flush()
    wait_drained(relay.depth)

    with _central(server) as central:
        run = central.get_run(run_id)
        assert run.data.params == {"lr": "0.01", "depth": "6"}
        assert run.data.tags["team"] == "vision" and run.data.tags["stage"] == "train"
        assert "stale" not in run.data.tags
        assert [(m.step, m.value) for m in central.get_metric_history(run_id, "acc")] == [
            (1, 0.5),
            (2, 0.75),
        ]
        loss = central.get_metric_history(run_id, "loss")
        assert len(loss) == 1_001
        assert [i.dataset.name for i in run.inputs] == ["mnist"]
    stats = relay.forwarder.stats
    assert stats.rejected_writes == 0 and stats.forwarded_points == 1_000 + 3


def test_malformed_writes_fail_at_the_relay_and_spool_nothing(
    relay: RunningRelay, relay_client: TrackwayClient
) -> None:
    run_id = _new_run(relay_client)
    with pytest.raises(InvalidArgument) as bad_key:
        relay_client.log_metric(run_id, "../escape", 1.0)
    assert bad_key.value.violations[0].field == "metric.key"
    with pytest.raises(InvalidArgument):
        relay_client.log_batch(run_id, metrics=[Metric("m", 1.0, i, 1) for i in range(1_001)])
    with pytest.raises(InvalidArgument):
        relay_client.set_tag("not-a-run-id", "k", "v")
    assert relay.depth().writes == 0


def test_a_retried_request_id_is_spooled_once(
    relay: RunningRelay, relay_client: TrackwayClient, server: RunningServer
) -> None:
    run_id = _new_run(relay_client)
    stub = pb_grpc.TrackingServiceStub(relay_client.channel)
    request = pb.LogMetricRequest(
        run_id=run_id,
        metric=metric_pb2.Metric(key="m", value=2.0, timestamp=5, step=7),
        request_id="retry-me",
    )
    stub.LogMetric(request)
    stub.LogMetric(request)
    with pytest.raises(grpc.RpcError) as reused:
        stub.SetTag(
            pb.SetTagRequest(
                run_id=run_id, tag=run_pb2.RunTag(key="k", value="v"), request_id="retry-me"
            )
        )
    assert reused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    wait_drained(relay.depth)
    with _central(server) as central:
        assert [(m.step, m.value) for m in central.get_metric_history(run_id, "m")] == [(7, 2.0)]


def test_log_columns_is_spooled_once_and_checked_at_the_relay(
    relay: RunningRelay, relay_client: TrackwayClient, server: RunningServer
) -> None:
    run_id = _new_run(relay_client)
    stub = pb_grpc.TrackingServiceStub(relay_client.channel)
    steps = list(range(5_000))
    request = pb.LogColumnsRequest(
        run_id=run_id,
        metrics=[metric_pb2.MetricColumns(key="loss", steps=steps, timestamps=steps, values=steps)],
        params=[run_pb2.Param(key="lr", value="0.1")],
        request_id="columns-once",
    )
    stub.LogColumns(request)
    stub.LogColumns(request)
    ragged = pb.LogColumnsRequest(
        run_id=run_id,
        metrics=[metric_pb2.MetricColumns(key="r", steps=[1, 2], timestamps=[1], values=[1.0])],
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.LogColumns(ragged)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    wait_drained(relay.depth)
    with _central(server) as central:
        assert len(central.get_metric_history(run_id, "loss")) == 5_000
        assert central.get_run(run_id).data.params == {"lr": "0.1"}
    assert relay.forwarder.stats.forwarded_points == 5_000


def test_log_stream_keeps_central_contract_on_the_relay(
    relay: RunningRelay, relay_client: TrackwayClient, server: RunningServer
) -> None:
    """Open answers the writer's last spooled seq; resends are acked without a second
    copy; a gap ends the stream with FAILED_PRECONDITION naming the last seq."""
    run_id = _new_run(relay_client)
    channel = relay_client.channel
    writer_id = uuid.uuid4().hex
    first = StreamWriter(channel, writer_id)
    for seq in range(1, 6):
        first.send(batch(run_id, seq))
    first.finish()
    assert first.error is None and first.last_acked == 5
    again = StreamWriter(channel, writer_id)
    for seq in range(1, 8):
        again.send(batch(run_id, seq))
    again.finish()
    assert again.opened_at == 5 and again.error is None and again.last_acked == 7
    gap = StreamWriter(channel, writer_id)
    gap.send(batch(run_id, 9))
    gap.finish()
    assert gap.error is not None and gap.error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "grpc-status-details-bin" in dict(gap.error.trailing_metadata() or ())

    wait_drained(relay.depth)
    with _central(server) as central:
        steps = [m.step for m in central.get_metric_history(run_id, "loss")]
    assert sorted(steps) == list(range(7 * POINTS_PER_BATCH))


def test_a_write_central_refuses_is_set_aside_and_the_rest_goes_on(
    relay: RunningRelay, relay_client: TrackwayClient, server: RunningServer
) -> None:
    run_id = _new_run(relay_client)
    missing = uuid.uuid4().hex  # a well-formed run id that central does not know
    relay_client.log_metric(run_id, "m", 1.0, step=1)
    relay_client.log_metric(missing, "m", 1.0, step=1)
    relay_client.log_param(run_id, "p", "a")
    relay_client.log_param(run_id, "p", "b")  # params are write-once: central refuses it
    relay_client.delete_tag(run_id, "never-set")  # NOT_FOUND on central
    relay_client.log_metric(run_id, "m", 2.0, step=2)
    wait_drained(relay.depth)
    assert relay.forwarder.stats.rejected_writes == 3
    assert relay.spool.rejected_count() == 3
    with _central(server) as central:
        assert [m.step for m in central.get_metric_history(run_id, "m")] == [1, 2]
        assert central.get_run(run_id).data.params == {"p": "a"}


def test_a_spool_serves_one_relay_at_a_time(relay: RunningRelay, server: RunningServer) -> None:
    """A second relay on the same spool would forward its writes twice: it is refused."""
    with pytest.raises(OSError, match="in use by another relay"):
        create_relay(
            ServerConfig(
                grpc_port=0,
                forward_to=f"grpc://127.0.0.1:{server.port}",
                spool_dir=str(relay.spool.path.parent),
            )
        )
