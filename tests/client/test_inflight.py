"""The client's half of exactly-once: numbering, acks, renumbering after a refusal."""

from __future__ import annotations

from trackway.client.batches import Marker, Outgoing, Record, build
from trackway.client.inflight import Inflight
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb

RUN = "a" * 32


def _out(points: int = 10) -> Outgoing:
    return Outgoing(0, RUN, pb.LogStreamBatch(run_id=RUN), points=points)


def test_acks_free_batches_in_order_and_settle_markers() -> None:
    inflight = Inflight()
    outs = [_out() for _ in range(3)]
    for out in outs:
        inflight.add(out)
    assert [o.seq for o in outs] == [1, 2, 3]
    marker = Marker()
    inflight.mark(marker)
    assert inflight.points == 30
    inflight.ack(2)
    assert len(inflight) == 1 and not marker.done.is_set()
    inflight.ack(3)
    assert marker.done.is_set() and inflight.points == 0


def test_a_marker_with_nothing_in_flight_is_done_at_once() -> None:
    marker = Marker()
    Inflight().mark(marker)
    assert marker.done.is_set()


def test_reconcile_drops_what_the_server_holds_and_renumbers_the_rest() -> None:
    inflight = Inflight()
    outs = [_out() for _ in range(5)]
    for out in outs:
        inflight.add(out)
    # The server committed 1..2 before the connection broke.
    resend = inflight.reconcile(2)
    assert [o.serial for o in resend] == [3, 4, 5]
    assert [o.seq for o in resend] == [3, 4, 5]
    # Batch 3 is refused: it is dropped, and the server's last committed stays 2.
    assert inflight.drop(3) is outs[2]
    resend = inflight.reconcile(2)
    assert [o.serial for o in resend] == [4, 5]
    assert [o.seq for o in resend] == [3, 4]
    fresh = _out()
    inflight.add(fresh)
    assert fresh.seq == 5


def test_reconcile_after_the_server_forgot_the_writer_starts_from_its_number() -> None:
    inflight = Inflight()
    outs = [_out() for _ in range(2)]
    for out in outs:
        inflight.add(out)
    inflight.ack(1)
    resend = inflight.reconcile(0)
    assert [o.seq for o in resend] == [1]


def test_build_groups_points_by_run_and_key_and_splits_large_batches() -> None:
    other = "b" * 32
    items: list[object] = [(RUN, "loss", float(i), i, 1000 + i) for i in range(25)]
    items += [(other, "acc", 0.5, 0, 5), Record("param", RUN, "lr", "0.1"), Marker()]
    items += [Record("tag", RUN, "t", "1"), Record("tag", RUN, "t", "2")]
    outs, markers = build(items, max_points=10)
    assert len(markers) == 1
    records = [o for o in outs if o.params or o.tags]
    assert len(records) == 1
    assert [(p.key, p.value) for p in records[0].batch.params] == [("lr", "0.1")]
    assert [(t.key, t.value) for t in records[0].batch.tags] == [("t", "2")]
    loss = [o for o in outs if o.run_id == RUN and o.points]
    assert [o.points for o in loss] == [10, 10, 5]
    steps = [s for o in loss for col in o.batch.metrics for s in col.steps]
    assert steps == list(range(25))
    assert [o.points for o in outs if o.run_id == other] == [1]
