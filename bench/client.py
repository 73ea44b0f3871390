"""The client side: channels, runs, and pre-built write requests.

Requests are built before the clock starts, so the timings hold what a client must do
per call (serialize, send, wait) and what the server does, not Python list building.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import grpc

from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc

Stub = pb_grpc.TrackingServiceStub
Row = tuple[int, int, int, float]
Chunk = list[tuple[str, list[int], list[int], list[float]]]  # (key, steps, stamps, values)

BASE_TS = 1_700_000_000_000
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def connect(target: str) -> tuple[grpc.Channel, Stub]:
    channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=30)
    return channel, pb_grpc.TrackingServiceStub(channel)


def create_experiment(stub: Stub, name: str | None = None) -> str:
    reply = stub.CreateExperiment(pb.CreateExperimentRequest(name=name or uuid.uuid4().hex))
    return str(reply.experiment.experiment_id)


def create_run(stub: Stub, experiment_id: str) -> str:
    reply = stub.CreateRun(pb.CreateRunRequest(experiment_id=experiment_id))
    return str(reply.run.info.run_id)


@dataclass(frozen=True)
class Series:
    """A synthetic metric history: `keys` metrics, each logged at `steps` steps."""

    keys: int
    steps: int
    seed: int = 0

    @property
    def points(self) -> int:
        return self.keys * self.steps

    def key(self, k: int) -> str:
        return f"metric_{k}"

    def columns(self, start: int, stop: int) -> Chunk:
        """Steps [start, stop) of every key, key by key."""
        rng = random.Random(self.seed * 1_000_003 + start)
        steps = list(range(start, stop))
        stamps = [BASE_TS + s for s in steps]
        return [
            (self.key(k), steps, stamps, [rng.random() for _ in steps]) for k in range(self.keys)
        ]

    def chunks(self, batch_points: int) -> Iterator[Chunk]:
        """Batches of `batch_points` points: a range of steps of every key."""
        per_batch = batch_points // self.keys
        if per_batch * self.keys != batch_points:
            raise ValueError(f"batch of {batch_points} points does not split over {self.keys} keys")
        for start in range(0, self.steps, per_batch):
            yield self.columns(start, min(start + per_batch, self.steps))

    def raw_batches(self, batch_points: int, first_series_id: int = 1) -> list[list[Row]]:
        """The same points as `metrics` rows (series_id, step, timestamp, value), per batch,
        grouped by key as the server inserts them."""
        out = []
        for chunk in self.chunks(batch_points):
            rows: list[Row] = []
            for k, (_, steps, stamps, values) in enumerate(chunk):
                sid = first_series_id + k
                rows.extend(zip([sid] * len(steps), steps, stamps, values, strict=True))
            out.append(rows)
        return out


def log_batch_requests(run_id: str, series: Series, batch_points: int) -> list[pb.LogBatchRequest]:
    """LogBatch requests as a training loop sends them: step by step, every key per step."""
    requests = []
    for chunk in series.chunks(batch_points):
        metrics = [
            metric_pb2.Metric(key=key, value=values[i], timestamp=stamps[i], step=steps[i])
            for i in range(len(chunk[0][1]))
            for key, steps, stamps, values in chunk
        ]
        requests.append(pb.LogBatchRequest(run_id=run_id, metrics=metrics))
    return requests


def stream_batches(run_id: str, series: Series, batch_points: int) -> list[pb.LogStreamRequest]:
    """Columnar LogStream batches, numbered from 1 (a new writer's first seq)."""
    batches = []
    for seq, chunk in enumerate(series.chunks(batch_points), start=1):
        batch = pb.LogStreamBatch(
            seq=seq,
            run_id=run_id,
            metrics=[
                metric_pb2.MetricColumns(key=k, steps=s, timestamps=t, values=v)
                for k, s, t, v in chunk
            ],
        )
        batches.append(pb.LogStreamRequest(batch=batch))
    return batches


def run_data_batch(
    seq: int, run_id: str, rng: random.Random, params: int = 5, metrics: int = 5, tags: int = 3
) -> pb.LogStreamRequest:
    """A run's params (`p<i>` = `v0`..`v9`), metrics (`m<i>` in [0, 1)) and tags."""
    batch = pb.LogStreamBatch(
        seq=seq,
        run_id=run_id,
        metrics=[
            metric_pb2.MetricColumns(
                key=f"m{i}", steps=[0], timestamps=[BASE_TS], values=[rng.random()]
            )
            for i in range(metrics)
        ],
        params=[run_pb2.Param(key=f"p{i}", value=f"v{rng.randrange(10)}") for i in range(params)],
        tags=[run_pb2.RunTag(key=f"t{i}", value=f"tag-{rng.randrange(100)}") for i in range(tags)],
    )
    return pb.LogStreamRequest(batch=batch)


def send_stream(stub: Stub, writer_id: str, batches: Sequence[pb.LogStreamRequest]) -> None:
    """Opens a LogStream as a new writer, sends every batch (seq 1..n) without waiting,
    and reads the acks until the last one."""

    def produce() -> Iterator[pb.LogStreamRequest]:
        yield pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id=writer_id))
        yield from batches

    responses = stub.LogStream(produce())
    first = next(responses)
    if first.WhichOneof("kind") != "opened" or first.opened.last_committed_seq != 0:
        raise RuntimeError(f"unexpected answer to open: {first}")
    expected = 1
    for reply in responses:
        if reply.ack.seq != expected:
            raise RuntimeError(f"ack {reply.ack.seq} where {expected} was due")
        expected += 1
    if expected != len(batches) + 1:
        raise RuntimeError(f"stream ended after ack {expected - 1} of {len(batches)}")
