"""Local writes, checked with the central server's rules and turned into spool entries.

The checks are those of `TrackingService` (trackway.tracking.validation, the same
limits), so a malformed write fails at once with INVALID_ARGUMENT, as it would against
central. What only central can know (a missing or deleted run, a param logged before
with another value) is found when the write is forwarded; see `forwarder`.

Points, params and tags all become LogStreamBatch messages, which the forwarder sends
on one pipelined stream: a LogBatch, a LogMetric, a LogParam or a SetTag is one atomic
batch, as it is one transaction on central. DeleteTag and LogInputs have no batch form
and are kept as their requests, each with a request id so that resending is safe.
"""

from __future__ import annotations

import uuid

from trackway.errors import TrackwayError, invalid
from trackway.gen.tracking.v1 import metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.relay.spool import BATCH, DELETE_TAG, LOG_INPUTS, Entry
from trackway.server import tracking_convert as convert
from trackway.tracking import limits
from trackway.tracking import validation as check


def _batch_entry(batch: pb.LogStreamBatch, points: int) -> Entry:
    return Entry(BATCH, batch.run_id, batch.SerializeToString(), points)


def log_metric(request: pb.LogMetricRequest) -> Entry:
    m = request.metric
    check.run_id("run_id", request.run_id)
    check.key("metric.key", m.key)
    check.timestamp("metric.timestamp", m.timestamp)
    check.worker("metric.worker", m.worker)
    check.request_id(request.request_id)
    batch = pb.LogStreamBatch(
        run_id=request.run_id,
        metrics=[
            metric_pb2.MetricColumns(
                key=m.key,
                steps=[m.step],
                timestamps=[m.timestamp],
                values=[m.value],
                worker=m.worker,
            )
        ],
    )
    return _batch_entry(batch, 1)


def log_batch(request: pb.LogBatchRequest) -> Entry:
    check.run_id("run_id", request.run_id)
    check.count("metrics", request.metrics, limits.MAX_BATCH_METRICS)
    # Grouped by key and worker as central groups a LogBatch, so both store the same.
    columns = check.metric_points(
        "metrics", [(m.key, m.value, m.timestamp, m.step, m.worker) for m in request.metrics]
    )
    _check_records(request)
    batch = pb.LogStreamBatch(
        run_id=request.run_id,
        metrics=[
            metric_pb2.MetricColumns(
                key=c.key, steps=c.steps, timestamps=c.timestamps, values=c.values, worker=c.worker
            )
            for c in columns
        ],
        params=request.params,
        tags=request.tags,
    )
    return _batch_entry(batch, len(request.metrics))


def _check_records(request: pb.LogBatchRequest | pb.LogColumnsRequest) -> None:
    """The params, tags and request id of a batch, checked as central checks them."""
    params = [(p.key, p.value) for p in request.params]
    tags = [(t.key, t.value) for t in request.tags]
    check.params("params", params, limits.MAX_BATCH_PARAMS)
    check.tags("tags", tags, limits.MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH)
    check.request_id(request.request_id)


def log_columns(request: pb.LogColumnsRequest) -> Entry:
    check.run_id("run_id", request.run_id)
    points = check.metric_columns(
        "metrics", convert.metric_columns(request.metrics), limits.MAX_STREAM_BATCH_POINTS
    )
    _check_records(request)
    batch = pb.LogStreamBatch(
        run_id=request.run_id, metrics=request.metrics, params=request.params, tags=request.tags
    )
    return _batch_entry(batch, points)


def log_param(request: pb.LogParamRequest) -> Entry:
    check.run_id("run_id", request.run_id)
    check.param("param", request.param.key, request.param.value)
    check.request_id(request.request_id)
    return _batch_entry(pb.LogStreamBatch(run_id=request.run_id, params=[request.param]), 0)


def set_tag(request: pb.SetTagRequest) -> Entry:
    check.run_id("run_id", request.run_id)
    check.tag("tag", request.tag.key, request.tag.value, limits.MAX_RUN_TAG_VALUE_LENGTH)
    check.request_id(request.request_id)
    tag = run_pb2.RunTag(key=request.tag.key, value=request.tag.value)
    return _batch_entry(pb.LogStreamBatch(run_id=request.run_id, tags=[tag]), 0)


def delete_tag(request: pb.DeleteTagRequest) -> Entry:
    check.run_id("run_id", request.run_id)
    check.key("key", request.key)
    check.request_id(request.request_id)
    forwarded = pb.DeleteTagRequest(
        run_id=request.run_id, key=request.key, request_id=request.request_id or _new_id()
    )
    return Entry(DELETE_TAG, request.run_id, forwarded.SerializeToString())


def log_inputs(request: pb.LogInputsRequest) -> Entry:
    """The datasets' own fields are checked by central when the write arrives there."""
    check.run_id("run_id", request.run_id)
    check.count("datasets", request.datasets, limits.MAX_INPUT_DATASETS)
    check.request_id(request.request_id)
    forwarded = pb.LogInputsRequest()
    forwarded.CopyFrom(request)
    forwarded.request_id = request.request_id or _new_id()
    return Entry(LOG_INPUTS, request.run_id, forwarded.SerializeToString())


def stream_batch(batch: pb.LogStreamBatch) -> Entry:
    """A batch of a local LogStream writer; its `seq` is the writer's, not the relay's
    (the forwarder numbers batches on its own stream), so it is cleared."""
    try:
        if batch.seq < 1:
            raise invalid("batch.seq", "must be at least 1")
        writes = convert.stream_writes(batch)
        check.run_id("batch.run_id", writes.run_id)
        points = check.metric_columns(
            "batch.metrics", writes.metrics, limits.MAX_STREAM_BATCH_POINTS
        )
        check.params("batch.params", writes.params, limits.MAX_BATCH_PARAMS)
        check.tags(
            "batch.tags", writes.tags, limits.MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH
        )
    except TrackwayError as exc:
        exc.metadata["seq"] = str(batch.seq)
        raise
    spooled = pb.LogStreamBatch()
    spooled.CopyFrom(batch)
    spooled.seq = 0
    return _batch_entry(spooled, points)


def _new_id() -> str:
    return uuid.uuid4().hex
