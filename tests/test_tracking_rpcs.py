"""Every TrackingService RPC over gRPC, on SQLite and on PostgreSQL.

Each RPC gets its happy path, with the returned fields checked one by one, and the error
codes that tracking_service.proto documents for it. Errors are checked the way a client
sees them: the status code, a message that says what to fix, the google.rpc.ErrorInfo
reason (domain `trackway.dev`) and, for bad input, the BadRequest field violation path.

Layout: helpers, then experiments, runs, run data (tags, params, metrics, batches,
inputs), metric history, searches, idempotent retries and the LogStream ingest path.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from trackway.gen.tracking.v1 import experiment_pb2 as epb
from trackway.gen.tracking.v1 import metric_pb2 as mpb
from trackway.gen.tracking.v1 import run_pb2 as rpb
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub as Stub

# ---------------------------------------------------------------------------------------
# Error assertions
# ---------------------------------------------------------------------------------------

# Each documented status code travels with exactly one ErrorInfo reason.
NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "RESOURCE_DOES_NOT_EXIST")
INVALID = (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PARAMETER_VALUE")
EXISTS = (grpc.StatusCode.ALREADY_EXISTS, "RESOURCE_ALREADY_EXISTS")
PRECONDITION = (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE")
Expected = tuple[grpc.StatusCode, str]


@dataclass
class ErrorDetails:
    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    violations: dict[str, str]


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """The google.rpc.Status of a failed call, unpacked."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"{error.code()} carries no google.rpc.Status: {error.details()}"
    info: error_details_pb2.ErrorInfo | None = None
    violations: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.update({v.field: v.description for v in bad.field_violations})
    assert info is not None, f"no ErrorInfo in the status of: {status.message}"
    assert info.domain == "trackway.dev"
    return ErrorDetails(
        code=error.code(),
        message=status.message,
        reason=info.reason,
        metadata=dict(info.metadata),
        violations=violations,
    )


def check_error(
    error: BaseException | None,
    expected: Expected,
    field: str | None = None,
    *,
    says: str | Sequence[str] = (),
    metadata: dict[str, str] | None = None,
) -> ErrorDetails:
    """Asserts the code, the reason, the words of the message and the field violation.

    `field` is the BadRequest path; the message must name it too, so that a human reading
    only the message knows which field to fix.
    """
    assert isinstance(error, grpc.RpcError), f"expected {expected[0].name}, got {error!r}"
    details = error_details(error)
    code, reason = expected
    assert details.code == code, f"{details.code.name} instead of {code.name}: {details.message}"
    assert details.reason == reason, details
    for words in [says] if isinstance(says, str) else says:
        assert words.lower() in details.message.lower(), f"{words!r} not in {details.message!r}"
    if field is not None:
        assert field in details.violations, (
            f"no BadRequest violation for {field!r}: {details.violations} ({details.message})"
        )
        assert details.violations[field], "a violation must say what is wrong"
        assert field in details.message, details.message
    for key, value in (metadata or {}).items():
        assert details.metadata.get(key) == value, details.metadata
    return details


def assert_error(
    call: Callable[[], Any],
    expected: Expected,
    field: str | None = None,
    *,
    says: str | Sequence[str] = (),
    metadata: dict[str, str] | None = None,
) -> ErrorDetails:
    """Runs `call`, which must fail as described (see check_error)."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return check_error(caught.value, expected, field, says=says, metadata=metadata)


# ---------------------------------------------------------------------------------------
# Small builders and readers
# ---------------------------------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def missing_run_id() -> str:
    return uuid.uuid4().hex


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def create_experiment(stub: Stub, name: str | None = None, **kwargs: Any) -> epb.Experiment:
    request = pb.CreateExperimentRequest(name=name or unique(), **kwargs)
    return stub.CreateExperiment(request).experiment


def get_experiment(stub: Stub, experiment_id: str) -> epb.Experiment:
    return stub.GetExperiment(pb.GetExperimentRequest(experiment_id=experiment_id)).experiment


def create_run(stub: Stub, experiment_id: str, **kwargs: Any) -> rpb.Run:
    return stub.CreateRun(pb.CreateRunRequest(experiment_id=experiment_id, **kwargs)).run


def new_run(stub: Stub, **kwargs: Any) -> rpb.Run:
    """A run in a fresh experiment."""
    return create_run(stub, create_experiment(stub).experiment_id, **kwargs)


def get_run(stub: Stub, run_id: str) -> rpb.Run:
    return stub.GetRun(pb.GetRunRequest(run_id=run_id)).run


def run_tag(key: str, value: str) -> rpb.RunTag:
    return rpb.RunTag(key=key, value=value)


def exp_tag(key: str, value: str) -> epb.ExperimentTag:
    return epb.ExperimentTag(key=key, value=value)


def metric(key: str, value: float, step: int = 0, timestamp: int = 1000) -> mpb.Metric:
    return mpb.Metric(key=key, value=value, step=step, timestamp=timestamp)


def log_metric(stub: Stub, run_id: str, key: str, value: float, step: int = 0, **kw: Any) -> None:
    timestamp = kw.pop("timestamp", 1000)
    stub.LogMetric(
        pb.LogMetricRequest(run_id=run_id, metric=metric(key, value, step, timestamp), **kw)
    )


def log_points(stub: Stub, run_id: str, key: str, points: Sequence[tuple[int, int, float]]) -> None:
    """Logs (step, timestamp, value) points in order, 1,000 per LogBatch."""
    for start in range(0, len(points), 1000):
        chunk = [metric(key, v, s, t) for s, t, v in points[start : start + 1000]]
        stub.LogBatch(pb.LogBatchRequest(run_id=run_id, metrics=chunk))


def dataset(name: str = "mnist", digest: str = "d1", **tags: str) -> rpb.DatasetInput:
    return rpb.DatasetInput(
        tags=[rpb.InputTag(key=k, value=v) for k, v in tags.items()],
        dataset=rpb.Dataset(
            name=name,
            digest=digest,
            source_type="local",
            source='{"uri": "/data"}',
            schema='{"cols": ["x"]}',
            profile='{"rows": 10}',
        ),
    )


def by_key(items: Iterable[Any]) -> dict[str, str]:
    return {item.key: item.value for item in items}


def same(value: float) -> Any:
    """A value that compares equal to itself, NaN included."""
    return "NaN" if math.isnan(value) else value


def points(columns: mpb.MetricColumns) -> list[tuple[int, int, Any]]:
    assert len(columns.steps) == len(columns.timestamps) == len(columns.values)
    return [
        (s, t, same(v))
        for s, t, v in zip(columns.steps, columns.timestamps, columns.values, strict=True)
    ]


def history(stub: Stub, run_id: str, key: str, **kwargs: Any) -> list[tuple[int, int, Any]]:
    """A whole metric history, read in pages of the given page_size."""
    found: list[tuple[int, int, Any]] = []
    token = ""
    while True:
        reply = stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(run_id=run_id, metric_key=key, page_token=token, **kwargs)
        )
        assert reply.points.key == key
        found += points(reply.points)
        token = reply.next_page_token
        if not token:
            return found


def latest(run: rpb.Run) -> dict[str, tuple[int, int, Any]]:
    return {m.key: (m.step, m.timestamp, same(m.value)) for m in run.data.metrics}


def search_runs(stub: Stub, **kwargs: Any) -> pb.SearchRunsResponse:
    return stub.SearchRuns(pb.SearchRunsRequest(**kwargs))


def all_pages(fetch: Callable[[str], Any], items: str) -> tuple[list[Any], int]:
    """Every item of a paged search, and the number of pages it took."""
    found: list[Any] = []
    token, pages = "", 0
    while True:
        reply = fetch(token)
        pages += 1
        found += list(getattr(reply, items))
        token = reply.next_page_token
        if not token:
            return found, pages


# ---------------------------------------------------------------------------------------
# RPCs that take an experiment id or a run id, for the shared error cases
# ---------------------------------------------------------------------------------------

EXPERIMENT_ID_RPCS: dict[str, Callable[[Stub, str], Any]] = {
    "GetExperiment": lambda s, e: s.GetExperiment(pb.GetExperimentRequest(experiment_id=e)),
    "UpdateExperiment": lambda s, e: s.UpdateExperiment(
        pb.UpdateExperimentRequest(experiment_id=e, name=unique())
    ),
    "DeleteExperiment": lambda s, e: s.DeleteExperiment(
        pb.DeleteExperimentRequest(experiment_id=e)
    ),
    "RestoreExperiment": lambda s, e: s.RestoreExperiment(
        pb.RestoreExperimentRequest(experiment_id=e)
    ),
    "PurgeExperiment": lambda s, e: s.PurgeExperiment(pb.PurgeExperimentRequest(experiment_id=e)),
    "SetExperimentTag": lambda s, e: s.SetExperimentTag(
        pb.SetExperimentTagRequest(experiment_id=e, tag=exp_tag("team", "vision"))
    ),
    "DeleteExperimentTag": lambda s, e: s.DeleteExperimentTag(
        pb.DeleteExperimentTagRequest(experiment_id=e, key="team")
    ),
    "CreateRun": lambda s, e: s.CreateRun(pb.CreateRunRequest(experiment_id=e)),
}

# Writes to a run; each must refuse a deleted run. `mlflow.runName` exists on every run,
# so DeleteTag would succeed on an active run.
RUN_WRITE_RPCS: dict[str, Callable[[Stub, str], Any]] = {
    "UpdateRun": lambda s, r: s.UpdateRun(
        pb.UpdateRunRequest(run_id=r, status=rpb.RUN_STATUS_FINISHED)
    ),
    "SetTag": lambda s, r: s.SetTag(pb.SetTagRequest(run_id=r, tag=run_tag("k", "v"))),
    "DeleteTag": lambda s, r: s.DeleteTag(pb.DeleteTagRequest(run_id=r, key="mlflow.runName")),
    "LogParam": lambda s, r: s.LogParam(
        pb.LogParamRequest(run_id=r, param=rpb.Param(key="lr", value="0.1"))
    ),
    "LogMetric": lambda s, r: s.LogMetric(pb.LogMetricRequest(run_id=r, metric=metric("m", 1.0))),
    "LogBatch": lambda s, r: s.LogBatch(
        pb.LogBatchRequest(
            run_id=r,
            metrics=[metric("m", 1.0)],
            params=[rpb.Param(key="p", value="1")],
            tags=[run_tag("t", "1")],
        )
    ),
    "LogColumns": lambda s, r: s.LogColumns(
        pb.LogColumnsRequest(
            run_id=r,
            metrics=[mpb.MetricColumns(key="m", steps=[0], timestamps=[1000], values=[1.0])],
            params=[rpb.Param(key="p", value="1")],
            tags=[run_tag("t", "1")],
        )
    ),
    "LogInputs": lambda s, r: s.LogInputs(pb.LogInputsRequest(run_id=r, datasets=[dataset()])),
}

RUN_ID_RPCS: dict[str, tuple[str, Callable[[Stub, str], Any]]] = {
    name: ("run_id", rpc) for name, rpc in RUN_WRITE_RPCS.items()
} | {
    "GetRun": ("run_id", lambda s, r: s.GetRun(pb.GetRunRequest(run_id=r))),
    "DeleteRun": ("run_id", lambda s, r: s.DeleteRun(pb.DeleteRunRequest(run_id=r))),
    "RestoreRun": ("run_id", lambda s, r: s.RestoreRun(pb.RestoreRunRequest(run_id=r))),
    "GetMetricHistory": (
        "run_id",
        lambda s, r: s.GetMetricHistory(pb.GetMetricHistoryRequest(run_id=r, metric_key="m")),
    ),
    "GetMetricHistoryBulk": (
        "run_ids[0]",
        lambda s, r: s.GetMetricHistoryBulk(
            pb.GetMetricHistoryBulkRequest(run_ids=[r], metric_key="m")
        ),
    ),
}


@pytest.mark.parametrize("rpc", EXPERIMENT_ID_RPCS, ids=str)
def test_unknown_experiment_id_is_not_found(stub: Stub, rpc: str) -> None:
    assert_error(lambda: EXPERIMENT_ID_RPCS[rpc](stub, "999"), NOT_FOUND, says="999")


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.5", "", "1" * 19])
@pytest.mark.parametrize("rpc", EXPERIMENT_ID_RPCS, ids=str)
def test_malformed_experiment_id_is_invalid(stub: Stub, rpc: str, bad_id: str) -> None:
    assert_error(lambda: EXPERIMENT_ID_RPCS[rpc](stub, bad_id), INVALID, "experiment_id")


@pytest.mark.parametrize("rpc", RUN_ID_RPCS, ids=str)
def test_unknown_run_id_is_not_found(stub: Stub, rpc: str) -> None:
    run_id = missing_run_id()
    assert_error(lambda: RUN_ID_RPCS[rpc][1](stub, run_id), NOT_FOUND, says=run_id)


@pytest.mark.parametrize("bad_id", ["not-a-run", "", "A" * 32, "a" * 31, "a" * 33])
@pytest.mark.parametrize("rpc", RUN_ID_RPCS, ids=str)
def test_malformed_run_id_is_invalid(stub: Stub, rpc: str, bad_id: str) -> None:
    field, call = RUN_ID_RPCS[rpc]
    assert_error(lambda: call(stub, bad_id), INVALID, field)


@pytest.mark.parametrize("rpc", RUN_WRITE_RPCS, ids=str)
def test_write_to_deleted_run_fails_precondition(stub: Stub, rpc: str) -> None:
    run = new_run(stub)
    run_id = run.info.run_id
    stub.DeleteRun(pb.DeleteRunRequest(run_id=run_id))
    assert_error(lambda: RUN_WRITE_RPCS[rpc](stub, run_id), PRECONDITION, says=[run_id, "restore"])
    # Nothing was written, and the run stays readable.
    after = get_run(stub, run_id)
    assert after.info.lifecycle_stage == epb.LIFECYCLE_STAGE_DELETED
    assert after.info.status == rpb.RUN_STATUS_RUNNING
    assert after.data.params == [] and after.data.metrics == []
    assert by_key(after.data.tags) == by_key(run.data.tags)
    assert list(after.inputs.dataset_inputs) == []


# ---------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------


def test_create_experiment_returns_every_field(stub: Stub, artifact_root: str) -> None:
    before = now_ms()
    exp = create_experiment(stub, "churn model", tags=[exp_tag("team", "a"), exp_tag("owner", "b")])
    after = now_ms()
    assert exp.experiment_id.isdigit()
    assert exp.name == "churn model"
    assert exp.artifact_location == f"{artifact_root}/{exp.experiment_id}"
    assert exp.lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE
    assert before <= exp.creation_time <= after
    assert exp.last_update_time == exp.creation_time
    assert [(t.key, t.value) for t in exp.tags] == [("owner", "b"), ("team", "a")]  # by key
    assert get_experiment(stub, exp.experiment_id) == exp


def test_create_experiment_keeps_given_artifact_location(stub: Stub, artifact_root: str) -> None:
    location = f"{artifact_root}/teams/churn"
    exp = create_experiment(stub, artifact_location=location)
    assert exp.artifact_location == location
    run = create_run(stub, exp.experiment_id)
    assert run.info.artifact_uri == f"{location}/{run.info.run_id}/artifacts"


@pytest.mark.parametrize(
    "location",
    ["s3://bucket/churn", "{root}", "{root}/", "{root}/../escape", "{root}/a//b", "{root}x/y"],
)
def test_create_experiment_refuses_artifact_location_outside_the_root(
    stub: Stub, artifact_root: str, location: str
) -> None:
    """A location outside the server's artifact root would let a client reach any path the
    server can; the server refuses it and says which root to stay under."""
    location = location.format(root=artifact_root)
    assert_error(
        lambda: create_experiment(stub, artifact_location=location),
        INVALID,
        "artifact_location",
        says=["below the server's artifact root", artifact_root],
    )


def test_experiment_ids_are_distinct(stub: Stub) -> None:
    ids = [create_experiment(stub).experiment_id for _ in range(5)]
    assert len(set(ids)) == 5


@pytest.mark.parametrize(
    ("request_fields", "field", "says"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "n" * 501}, "name", "at most 500"),
        ({"artifact_location": "s3://" + "x" * 1000}, "artifact_location", "at most 1000"),
        ({"tags": [exp_tag("../up", "v")]}, "tags[0].key", "relative path"),
        ({"tags": [exp_tag("ok", "v"), exp_tag("", "v")]}, "tags[1].key", "empty"),
        ({"tags": [exp_tag("k", "v" * 5001)]}, "tags[0].value", "at most 5000"),
        ({"tags": [exp_tag(f"k{i}", "v") for i in range(101)]}, "tags", "at most 100"),
        ({"request_id": "r" * 65}, "request_id", "at most 64"),
        ({"request_id": "has spaces"}, "request_id", "letters, digits"),
    ],
    ids=[
        "empty-name",
        "long-name",
        "long-location",
        "bad-tag-key",
        "empty-tag-key",
        "long-tag-value",
        "101-tags",
        "long-request-id",
        "bad-request-id",
    ],
)
def test_create_experiment_rejects_bad_input(
    stub: Stub, request_fields: dict[str, Any], field: str, says: str
) -> None:
    request = pb.CreateExperimentRequest(**{"name": unique(), **request_fields})
    assert_error(lambda: stub.CreateExperiment(request), INVALID, field, says=says)


def test_create_experiment_accepts_limits(stub: Stub) -> None:
    name = "n" * 500
    tags = [exp_tag(f"k{i:03d}", "v" * 5000) for i in range(100)]
    exp = create_experiment(stub, name, tags=tags)
    assert exp.name == name and len(exp.tags) == 100


def test_create_experiment_name_taken_by_active_or_deleted(stub: Stub) -> None:
    exp = create_experiment(stub, "taken")
    assert_error(lambda: create_experiment(stub, "taken"), EXISTS, says="'taken'")
    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=exp.experiment_id))
    # The message tells how to get the name back.
    assert_error(lambda: create_experiment(stub, "taken"), EXISTS, says=["'taken'", "purge"])


def test_get_experiment_reads_deleted_experiments(stub: Stub) -> None:
    exp = create_experiment(stub)
    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=exp.experiment_id))
    got = get_experiment(stub, exp.experiment_id)
    assert got.lifecycle_stage == epb.LIFECYCLE_STAGE_DELETED
    assert (got.name, got.creation_time) == (exp.name, exp.creation_time)
    assert got.last_update_time >= exp.last_update_time


def test_get_experiment_by_name_matches_exactly(stub: Stub) -> None:
    exp = create_experiment(stub, "Churn", tags=[exp_tag("team", "a")])
    reply = stub.GetExperimentByName(pb.GetExperimentByNameRequest(name="Churn"))
    assert reply.experiment == exp
    for other in ("churn", "Churn ", "Chur"):
        assert_error(
            lambda other=other: stub.GetExperimentByName(pb.GetExperimentByNameRequest(name=other)),
            NOT_FOUND,
            says=repr(other),
        )


def test_get_experiment_by_name_rejects_bad_name(stub: Stub) -> None:
    for name, says in (("", "required"), ("n" * 501, "at most 500")):
        assert_error(
            lambda name=name: stub.GetExperimentByName(pb.GetExperimentByNameRequest(name=name)),
            INVALID,
            "name",
            says=says,
        )


@pytest.mark.parametrize("with_mask", [False, True], ids=["empty-mask", "name-mask"])
def test_update_experiment_renames(stub: Stub, with_mask: bool) -> None:
    exp = create_experiment(stub, "old name", tags=[exp_tag("team", "a")])
    time.sleep(0.005)
    request = pb.UpdateExperimentRequest(
        experiment_id=exp.experiment_id,
        name="new name",
        update_mask=mask("name") if with_mask else None,
    )
    renamed = stub.UpdateExperiment(request).experiment
    assert renamed.name == "new name"
    assert renamed.experiment_id == exp.experiment_id
    assert renamed.creation_time == exp.creation_time
    assert renamed.last_update_time > exp.last_update_time
    assert renamed.tags == exp.tags
    assert renamed.artifact_location == exp.artifact_location
    assert get_experiment(stub, exp.experiment_id) == renamed
    byname = stub.GetExperimentByName(pb.GetExperimentByNameRequest(name="new name"))
    assert byname.experiment.experiment_id == exp.experiment_id
    assert_error(
        lambda: stub.GetExperimentByName(pb.GetExperimentByNameRequest(name="old name")), NOT_FOUND
    )
    # The old name is free again; renaming to the current name changes nothing.
    create_experiment(stub, "old name")
    same_name = pb.UpdateExperimentRequest(experiment_id=exp.experiment_id, name="new name")
    assert stub.UpdateExperiment(same_name).experiment.name == "new name"


def test_update_experiment_errors(stub: Stub) -> None:
    exp = create_experiment(stub, "first")
    create_experiment(stub, "second")
    eid = exp.experiment_id

    def update(**fields: Any) -> Any:
        return stub.UpdateExperiment(pb.UpdateExperimentRequest(experiment_id=eid, **fields))

    assert_error(lambda: update(name="second"), EXISTS, says="'second'")
    assert_error(lambda: update(name=""), INVALID, "name", says="required")
    assert_error(lambda: update(name="n" * 501), INVALID, "name", says="at most 500")
    assert_error(
        lambda: update(name="x", update_mask=mask("artifact_location")),
        INVALID,
        "update_mask",
        says="'artifact_location'",
    )
    assert get_experiment(stub, eid).name == "first"


def test_delete_and_restore_experiment_take_its_runs_along(stub: Stub) -> None:
    exp = create_experiment(stub)
    eid = exp.experiment_id
    kept = create_run(stub, eid).info.run_id
    other = create_run(stub, eid).info.run_id
    deleted_before = create_run(stub, eid).info.run_id
    stub.DeleteRun(pb.DeleteRunRequest(run_id=deleted_before))
    time.sleep(0.005)

    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=eid))
    deleted = get_experiment(stub, eid)
    assert deleted.lifecycle_stage == epb.LIFECYCLE_STAGE_DELETED
    assert deleted.last_update_time > exp.last_update_time
    for run_id in (kept, other, deleted_before):
        assert get_run(stub, run_id).info.lifecycle_stage == epb.LIFECYCLE_STAGE_DELETED
    assert search_runs(stub, experiment_ids=[eid]).runs == []
    # Deleting again is a no-op.
    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=eid))

    stub.RestoreExperiment(pb.RestoreExperimentRequest(experiment_id=eid))
    assert get_experiment(stub, eid).lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE
    assert get_run(stub, kept).info.lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE
    assert get_run(stub, other).info.lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE
    # A run deleted on its own before the experiment stays deleted.
    assert get_run(stub, deleted_before).info.lifecycle_stage == epb.LIFECYCLE_STAGE_DELETED
    log_metric(stub, kept, "m", 1.0)  # restored runs accept writes again
    # Restoring an active experiment is a no-op.
    stub.RestoreExperiment(pb.RestoreExperimentRequest(experiment_id=eid))


def test_deleted_experiment_refuses_writes(stub: Stub) -> None:
    exp = create_experiment(stub, tags=[exp_tag("team", "a")])
    eid = exp.experiment_id
    run_id = create_run(stub, eid).info.run_id
    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=eid))

    assert_error(lambda: create_run(stub, eid), PRECONDITION, says=[eid, "restore"])
    assert_error(lambda: EXPERIMENT_ID_RPCS["SetExperimentTag"](stub, eid), PRECONDITION, says=eid)
    assert_error(
        lambda: EXPERIMENT_ID_RPCS["DeleteExperimentTag"](stub, eid), PRECONDITION, says=eid
    )
    assert_error(lambda: log_metric(stub, run_id, "m", 1.0), PRECONDITION, says=run_id)
    # Its runs cannot come back on their own while it is deleted.
    assert_error(
        lambda: stub.RestoreRun(pb.RestoreRunRequest(run_id=run_id)),
        PRECONDITION,
        says=[eid, "restore"],
    )
    assert by_key(get_experiment(stub, eid).tags) == {"team": "a"}


def test_purge_frees_the_name(stub: Stub) -> None:
    first = create_experiment(stub, "reused")
    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=first.experiment_id))
    assert_error(lambda: create_experiment(stub, "reused"), EXISTS, says="purge")
    reply = stub.PurgeExperiment(pb.PurgeExperimentRequest(experiment_id=first.experiment_id))
    assert reply.purged_runs == 0
    second = create_experiment(stub, "reused")
    assert second.name == "reused"
    assert second.lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE
    # Ids are unique for the lifetime of the server: a purged id is never handed out again.
    assert second.experiment_id != first.experiment_id


def test_purge_removes_runs_and_their_data(stub: Stub) -> None:
    exp = create_experiment(stub, tags=[exp_tag("team", "a")])
    eid = exp.experiment_id
    run_ids = []
    for i in range(3):
        run_id = create_run(stub, eid).info.run_id
        stub.LogBatch(
            pb.LogBatchRequest(
                run_id=run_id,
                metrics=[metric("loss", 0.5, step=i)],
                params=[rpb.Param(key="lr", value="0.1")],
                tags=[run_tag("t", "v")],
            )
        )
        stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=[dataset()]))
        run_ids.append(run_id)
    survivor = new_run(stub)
    log_metric(stub, survivor.info.run_id, "loss", 0.25)

    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=eid))
    reply = stub.PurgeExperiment(pb.PurgeExperimentRequest(experiment_id=eid))
    assert reply.purged_runs == 3

    assert_error(lambda: get_experiment(stub, eid), NOT_FOUND, says=eid)
    for run_id in run_ids:
        assert_error(lambda run_id=run_id: get_run(stub, run_id), NOT_FOUND, says=run_id)
    assert search_runs(stub, view_type=epb.VIEW_TYPE_ALL).runs == [
        get_run(stub, survivor.info.run_id)
    ]
    assert history(stub, survivor.info.run_id, "loss") == [(0, 1000, 0.25)]
    # A second purge finds nothing.
    assert_error(
        lambda: stub.PurgeExperiment(pb.PurgeExperimentRequest(experiment_id=eid)), NOT_FOUND
    )


def test_purge_of_active_experiment_fails_precondition(stub: Stub) -> None:
    exp = create_experiment(stub)
    run_id = create_run(stub, exp.experiment_id).info.run_id
    assert_error(
        lambda: stub.PurgeExperiment(pb.PurgeExperimentRequest(experiment_id=exp.experiment_id)),
        PRECONDITION,
        says=[exp.experiment_id, "delete it"],
    )
    assert get_experiment(stub, exp.experiment_id) == exp
    assert get_run(stub, run_id).info.lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE


def test_set_and_delete_experiment_tag(stub: Stub) -> None:
    exp = create_experiment(stub, tags=[exp_tag("team", "a")])
    eid = exp.experiment_id

    def set_tag(key: str, value: str) -> None:
        stub.SetExperimentTag(
            pb.SetExperimentTagRequest(experiment_id=eid, tag=exp_tag(key, value))
        )

    set_tag("owner", "ana")
    set_tag("team", "b")  # replaces
    set_tag("empty", "")
    got = get_experiment(stub, eid)
    assert [(t.key, t.value) for t in got.tags] == [("empty", ""), ("owner", "ana"), ("team", "b")]
    stub.DeleteExperimentTag(pb.DeleteExperimentTagRequest(experiment_id=eid, key="owner"))
    assert by_key(get_experiment(stub, eid).tags) == {"empty": "", "team": "b"}
    assert_error(
        lambda: stub.DeleteExperimentTag(
            pb.DeleteExperimentTagRequest(experiment_id=eid, key="owner")
        ),
        NOT_FOUND,
        says="'owner'",
    )


def test_experiment_tag_changes_update_last_update_time(stub: Stub) -> None:
    """Experiment.last_update_time: "the last change to the experiment's name, tags or stage"."""
    exp = create_experiment(stub)
    eid = exp.experiment_id
    time.sleep(0.005)
    stub.SetExperimentTag(pb.SetExperimentTagRequest(experiment_id=eid, tag=exp_tag("k", "v")))
    tagged = get_experiment(stub, eid)
    assert tagged.last_update_time > exp.last_update_time
    time.sleep(0.005)
    stub.DeleteExperimentTag(pb.DeleteExperimentTagRequest(experiment_id=eid, key="k"))
    assert get_experiment(stub, eid).last_update_time > tagged.last_update_time


@pytest.mark.parametrize(
    ("tag", "field", "says"),
    [
        (exp_tag("", "v"), "tag.key", "empty"),
        (exp_tag("a//b", "v"), "tag.key", "relative path"),
        (exp_tag("k" * 251, "v"), "tag.key", "at most 250"),
        (exp_tag("k", "v" * 5001), "tag.value", "at most 5000"),
    ],
    ids=["empty-key", "bad-key", "long-key", "long-value"],
)
def test_set_experiment_tag_rejects_bad_tag(
    stub: Stub, tag: epb.ExperimentTag, field: str, says: str
) -> None:
    eid = create_experiment(stub).experiment_id
    request = pb.SetExperimentTagRequest(experiment_id=eid, tag=tag)
    assert_error(lambda: stub.SetExperimentTag(request), INVALID, field, says=says)


def test_delete_experiment_tag_rejects_bad_key(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    request = pb.DeleteExperimentTagRequest(experiment_id=eid, key="")
    assert_error(lambda: stub.DeleteExperimentTag(request), INVALID, "key", says="empty")


# ---------------------------------------------------------------------------------------
# SearchExperiments
# ---------------------------------------------------------------------------------------


@pytest.fixture
def zoo(stub: Stub) -> dict[str, epb.Experiment]:
    """Five experiments: alpha-0..2 (alpha-1 deleted), beta-0..1; tags team and tier."""
    made = {}
    for name, team in (
        ("alpha-0", "vision"),
        ("alpha-1", "vision"),
        ("alpha-2", "speech"),
        ("beta-0", "vision"),
        ("beta-1", "speech"),
    ):
        made[name] = create_experiment(stub, name, tags=[exp_tag("team", team)])
        time.sleep(0.002)  # distinct creation times
    stub.SetExperimentTag(
        pb.SetExperimentTagRequest(
            experiment_id=made["beta-0"].experiment_id, tag=exp_tag("tier", "gold")
        )
    )
    stub.DeleteExperiment(pb.DeleteExperimentRequest(experiment_id=made["alpha-1"].experiment_id))
    return made


def search_experiment_names(stub: Stub, **kwargs: Any) -> list[str]:
    reply = stub.SearchExperiments(pb.SearchExperimentsRequest(**kwargs))
    assert reply.next_page_token == ""
    return [e.name for e in reply.experiments]


def test_search_experiments_filters(stub: Stub, zoo: dict[str, epb.Experiment]) -> None:
    order = ["name ASC"]
    assert search_experiment_names(stub, filter="name LIKE 'alpha%'", order_by=order) == [
        "alpha-0",
        "alpha-2",
    ]
    assert search_experiment_names(stub, filter="tags.team = 'vision'", order_by=order) == [
        "alpha-0",
        "beta-0",
    ]
    assert search_experiment_names(stub, filter="tags.tier IS NOT NULL", order_by=order) == [
        "beta-0"
    ]
    since = zoo["alpha-2"].creation_time
    assert search_experiment_names(stub, filter=f"creation_time >= {since}", order_by=order) == [
        "alpha-2",
        "beta-0",
        "beta-1",
    ]
    found = stub.SearchExperiments(pb.SearchExperimentsRequest(filter="name = 'beta-0'"))
    assert list(found.experiments) == [get_experiment(stub, zoo["beta-0"].experiment_id)]


def test_search_experiments_orders(stub: Stub, zoo: dict[str, epb.Experiment]) -> None:
    alive = ["alpha-0", "alpha-2", "beta-0", "beta-1"]
    assert search_experiment_names(stub, order_by=["name DESC"]) == alive[::-1]
    assert search_experiment_names(stub, order_by=["creation_time ASC"]) == alive
    assert search_experiment_names(stub, order_by=["experiment_id DESC"]) == alive[::-1]
    # Default: last_update_time DESC, so a renamed experiment comes first.
    time.sleep(0.005)
    stub.UpdateExperiment(
        pb.UpdateExperimentRequest(experiment_id=zoo["alpha-2"].experiment_id, name="alpha-2x")
    )
    for order_by in ([], ["last_update_time DESC", "name ASC"]):
        names = search_experiment_names(stub, order_by=order_by)
        assert names[0] == "alpha-2x" and names[-1] == "alpha-0", order_by
        assert sorted(names) == ["alpha-0", "alpha-2x", "beta-0", "beta-1"]


def test_search_experiments_view_types(stub: Stub, zoo: dict[str, epb.Experiment]) -> None:
    order = ["name ASC"]
    alive = ["alpha-0", "alpha-2", "beta-0", "beta-1"]
    assert search_experiment_names(stub, order_by=order) == alive
    for view, expected in (
        (epb.VIEW_TYPE_UNSPECIFIED, alive),
        (epb.VIEW_TYPE_ACTIVE_ONLY, alive),
        (epb.VIEW_TYPE_DELETED_ONLY, ["alpha-1"]),
        (epb.VIEW_TYPE_ALL, sorted([*alive, "alpha-1"])),
    ):
        assert search_experiment_names(stub, order_by=order, view_type=view) == expected


def test_search_experiments_pages(stub: Stub, zoo: dict[str, epb.Experiment]) -> None:
    def fetch(token: str) -> Any:
        request = pb.SearchExperimentsRequest(
            order_by=["name ASC"], page_size=2, page_token=token, view_type=epb.VIEW_TYPE_ALL
        )
        reply = stub.SearchExperiments(request)
        assert len(reply.experiments) <= 2
        return reply

    found, pages = all_pages(fetch, "experiments")
    assert [e.name for e in found] == sorted(zoo)
    assert pages == 3


def test_search_experiments_errors(stub: Stub, zoo: dict[str, epb.Experiment]) -> None:
    def search(**fields: Any) -> Any:
        return stub.SearchExperiments(pb.SearchExperimentsRequest(**fields))

    assert_error(lambda: search(filter="name = "), INVALID, "filter", says="position")
    assert_error(lambda: search(filter="color = 'red'"), INVALID, "filter", says="'color'")
    assert_error(lambda: search(order_by=["tags.team"]), INVALID, "order_by", says="tag")
    assert_error(lambda: search(order_by=["name", "name", "name", "name"]), INVALID, "order_by")
    assert_error(lambda: search(page_size=50_001), INVALID, "page_size", says="50000")
    assert_error(lambda: search(page_size=-1), INVALID, "page_size")
    assert_error(lambda: search(view_type=9), INVALID, "view_type")
    assert_error(lambda: search(page_token="%%%not-a-token"), INVALID, "page_token")
    token = search(order_by=["name ASC"], page_size=1).next_page_token
    assert token
    assert_error(
        lambda: search(order_by=["name DESC"], page_size=1, page_token=token),
        INVALID,
        "page_token",
        says="different query",
    )


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------


def test_create_run_returns_every_field(stub: Stub) -> None:
    exp = create_experiment(stub)
    run = create_run(
        stub,
        exp.experiment_id,
        run_name="baseline",
        start_time=1_700_000_000_000,
        user_id="ana",
        tags=[run_tag("b", "2"), run_tag("a", "1")],
    )
    info = run.info
    assert len(info.run_id) == 32 and int(info.run_id, 16) >= 0
    assert info.run_id == info.run_id.lower()
    assert info.experiment_id == exp.experiment_id
    assert info.run_name == "baseline"
    assert info.user_id == "ana"
    assert info.status == rpb.RUN_STATUS_RUNNING
    assert info.start_time == 1_700_000_000_000
    assert info.end_time == 0
    assert info.artifact_uri == f"{exp.artifact_location}/{info.run_id}/artifacts"
    assert info.lifecycle_stage == epb.LIFECYCLE_STAGE_ACTIVE
    assert info.parent_run_id == ""
    assert [(t.key, t.value) for t in run.data.tags] == [
        ("a", "1"),
        ("b", "2"),
        ("mlflow.runName", "baseline"),
    ]
    assert list(run.data.params) == [] and list(run.data.metrics) == []
    assert list(run.inputs.dataset_inputs) == []
    assert get_run(stub, info.run_id) == run


def test_create_run_defaults(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    before = now_ms()
    run = create_run(stub, eid)
    after = now_ms()
    assert before <= run.info.start_time <= after
    assert run.info.run_name  # generated
    assert by_key(run.data.tags) == {"mlflow.runName": run.info.run_name}
    assert run.info.user_id == ""
    # The name may also come from the mlflow.runName tag, as MLflow's clients send it.
    named = create_run(stub, eid, tags=[run_tag("mlflow.runName", "from-tag")])
    assert named.info.run_name == "from-tag"
    assert create_run(stub, eid).info.run_id != run.info.run_id


@pytest.mark.parametrize(
    ("request_fields", "field", "says"),
    [
        ({"run_name": "r" * 251}, "run_name", "at most 250"),
        ({"start_time": -1}, "start_time", "negative"),
        ({"tags": [run_tag("bad key!", "v")]}, "tags[0].key", "may only hold"),
        ({"tags": [run_tag("k", "v" * 8001)]}, "tags[0].value", "at most 8000"),
        ({"tags": [run_tag(f"k{i}", "v") for i in range(101)]}, "tags", "at most 100"),
        ({"user_id": "u" * 257}, "user_id", "at most 256"),
        ({"parent_run_id": "not-a-run"}, "parent_run_id", "not a run id"),
        ({"request_id": "bad id"}, "request_id", "at most 64"),
    ],
    ids=[
        "long-name",
        "negative-start",
        "bad-tag-key",
        "long-tag-value",
        "101-tags",
        "long-user",
        "bad-parent",
        "bad-request-id",
    ],
)
def test_create_run_rejects_bad_input(
    stub: Stub, request_fields: dict[str, Any], field: str, says: str
) -> None:
    eid = create_experiment(stub).experiment_id
    assert_error(lambda: create_run(stub, eid, **request_fields), INVALID, field, says=says)
    assert search_runs(stub, experiment_ids=[eid], view_type=epb.VIEW_TYPE_ALL).runs == []


def test_nested_runs(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    parent = create_run(stub, eid).info.run_id
    by_field = create_run(stub, eid, parent_run_id=parent)
    assert by_field.info.parent_run_id == parent
    assert by_key(by_field.data.tags)["mlflow.parentRunId"] == parent
    # MLflow's clients set only the tag; the server fills in the field.
    by_tag = create_run(stub, eid, tags=[run_tag("mlflow.parentRunId", parent)])
    assert by_tag.info.parent_run_id == parent
    assert by_key(by_tag.data.tags)["mlflow.parentRunId"] == parent
    children = search_runs(
        stub, experiment_ids=[eid], filter=f"attributes.parent_run_id = '{parent}'"
    )
    assert {r.info.run_id for r in children.runs} == {by_field.info.run_id, by_tag.info.run_id}


def test_nested_run_errors(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    missing = missing_run_id()
    assert_error(lambda: create_run(stub, eid, parent_run_id=missing), NOT_FOUND, says=missing)
    assert_error(
        lambda: create_run(stub, eid, tags=[run_tag("mlflow.parentRunId", missing)]),
        NOT_FOUND,
        says=missing,
    )
    elsewhere = new_run(stub).info.run_id
    details = assert_error(
        lambda: create_run(stub, eid, parent_run_id=elsewhere),
        INVALID,
        says=["parent_run_id", elsewhere, "parent's experiment"],
    )
    assert search_runs(stub, experiment_ids=[eid], view_type=epb.VIEW_TYPE_ALL).runs == []
    # Bad input names its field in a BadRequest, like every other INVALID_ARGUMENT.
    assert "parent_run_id" in details.violations, details


def test_get_run_returns_data_and_inputs(stub: Stub) -> None:
    run_id = new_run(stub, run_name="r").info.run_id
    stub.LogBatch(
        pb.LogBatchRequest(
            run_id=run_id,
            metrics=[metric("loss", 0.5, step=1, timestamp=10), metric("acc", 0.9, 2, 20)],
            params=[rpb.Param(key="lr", value="0.1"), rpb.Param(key="depth", value="3")],
            tags=[run_tag("stage", "dev")],
        )
    )
    stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=[dataset(context="training")]))
    run = get_run(stub, run_id)
    assert [(m.key, m.value, m.step, m.timestamp) for m in run.data.metrics] == [
        ("acc", 0.9, 2, 20),
        ("loss", 0.5, 1, 10),
    ]
    assert [(p.key, p.value) for p in run.data.params] == [("depth", "3"), ("lr", "0.1")]
    assert [(t.key, t.value) for t in run.data.tags] == [("mlflow.runName", "r"), ("stage", "dev")]
    assert list(run.inputs.dataset_inputs) == [dataset(context="training")]


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "full-mask"])
def test_update_run_sets_status_end_time_and_name(stub: Stub, with_mask: bool) -> None:
    run = new_run(stub, run_name="before", start_time=1000)
    request = pb.UpdateRunRequest(
        run_id=run.info.run_id,
        status=rpb.RUN_STATUS_FINISHED,
        end_time=5000,
        run_name="after",
        update_mask=mask("status", "end_time", "run_name") if with_mask else None,
    )
    info = stub.UpdateRun(request).run_info
    expected = rpb.RunInfo()
    expected.CopyFrom(run.info)
    expected.status = rpb.RUN_STATUS_FINISHED
    expected.end_time = 5000
    expected.run_name = "after"
    assert info == expected
    after = get_run(stub, run.info.run_id)
    assert after.info == expected
    assert by_key(after.data.tags)["mlflow.runName"] == "after"


def test_update_run_mask_limits_what_changes(stub: Stub) -> None:
    run = new_run(stub, run_name="keep")
    run_id = run.info.run_id
    info = stub.UpdateRun(
        pb.UpdateRunRequest(
            run_id=run_id,
            status=rpb.RUN_STATUS_FAILED,
            end_time=7000,
            run_name="ignored",
            update_mask=mask("status"),
        )
    ).run_info
    assert (info.status, info.end_time, info.run_name) == (rpb.RUN_STATUS_FAILED, 0, "keep")
    # Any status may follow any other, and the server keeps the client's end time.
    info = stub.UpdateRun(
        pb.UpdateRunRequest(run_id=run_id, status=rpb.RUN_STATUS_RUNNING, end_time=9000)
    ).run_info
    assert (info.status, info.end_time, info.run_name) == (rpb.RUN_STATUS_RUNNING, 9000, "keep")
    info = stub.UpdateRun(
        pb.UpdateRunRequest(run_id=run_id, run_name="renamed", update_mask=mask("run_name"))
    ).run_info
    assert (info.status, info.end_time, info.run_name) == (rpb.RUN_STATUS_RUNNING, 9000, "renamed")
    # An empty request changes nothing.
    assert stub.UpdateRun(pb.UpdateRunRequest(run_id=run_id)).run_info == info


def test_update_run_errors(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id

    def update(**fields: Any) -> Any:
        return stub.UpdateRun(pb.UpdateRunRequest(run_id=run_id, **fields))

    assert_error(
        lambda: update(update_mask=mask("user_id")), INVALID, "update_mask", says="user_id"
    )
    assert_error(lambda: update(update_mask=mask("status")), INVALID, "status")  # UNSPECIFIED
    assert_error(lambda: update(status=42), INVALID, "status", says="42")
    assert_error(lambda: update(end_time=-5), INVALID, "end_time", says="negative")
    assert_error(lambda: update(run_name="r" * 251), INVALID, "run_name", says="at most 250")
    assert_error(lambda: update(run_name="", update_mask=mask("run_name")), INVALID, "run_name")
    assert get_run(stub, run_id).info.status == rpb.RUN_STATUS_RUNNING


def test_run_name_follows_the_mlflow_run_name_tag(stub: Stub) -> None:
    run_id = new_run(stub, run_name="first").info.run_id
    stub.SetTag(pb.SetTagRequest(run_id=run_id, tag=run_tag("mlflow.runName", "second")))
    assert get_run(stub, run_id).info.run_name == "second"
    stub.LogBatch(pb.LogBatchRequest(run_id=run_id, tags=[run_tag("mlflow.runName", "third")]))
    run = get_run(stub, run_id)
    assert run.info.run_name == "third"
    assert by_key(run.data.tags)["mlflow.runName"] == "third"
    found = search_runs(stub, filter="attributes.run_name = 'third'")
    assert [r.info.run_id for r in found.runs] == [run_id]


def test_delete_and_restore_run(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    run = create_run(stub, eid)
    run_id = run.info.run_id
    stub.DeleteRun(pb.DeleteRunRequest(run_id=run_id))
    deleted = get_run(stub, run_id)
    assert deleted.info.lifecycle_stage == epb.LIFECYCLE_STAGE_DELETED
    assert search_runs(stub, experiment_ids=[eid]).runs == []
    stub.DeleteRun(pb.DeleteRunRequest(run_id=run_id))  # again: no-op
    stub.RestoreRun(pb.RestoreRunRequest(run_id=run_id))
    assert get_run(stub, run_id) == run
    stub.RestoreRun(pb.RestoreRunRequest(run_id=run_id))  # again: no-op
    assert get_run(stub, run_id) == run


# ---------------------------------------------------------------------------------------
# Run tags and params
# ---------------------------------------------------------------------------------------


def test_set_and_delete_tag(stub: Stub) -> None:
    run_id = new_run(stub, run_name="r").info.run_id

    def set_tag(key: str, value: str) -> None:
        stub.SetTag(pb.SetTagRequest(run_id=run_id, tag=run_tag(key, value)))

    set_tag("stage", "dev")
    set_tag("stage", "prod")  # replaces
    set_tag("note", "n" * 8000)
    set_tag("k" * 250, "")
    tags = by_key(get_run(stub, run_id).data.tags)
    assert tags == {"mlflow.runName": "r", "stage": "prod", "note": "n" * 8000, "k" * 250: ""}
    stub.DeleteTag(pb.DeleteTagRequest(run_id=run_id, key="stage"))
    assert "stage" not in by_key(get_run(stub, run_id).data.tags)
    assert_error(
        lambda: stub.DeleteTag(pb.DeleteTagRequest(run_id=run_id, key="stage")),
        NOT_FOUND,
        says=[run_id, "'stage'"],
    )
    assert_error(lambda: stub.DeleteTag(pb.DeleteTagRequest(run_id=run_id, key="")), INVALID, "key")


def test_log_param_is_write_once(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id

    def log_param(key: str, value: str) -> None:
        stub.LogParam(pb.LogParamRequest(run_id=run_id, param=rpb.Param(key=key, value=value)))

    log_param("lr", "0.1")
    log_param("lr", "0.1")  # the same value again is fine
    log_param("empty", "")
    log_param("long", "v" * 6000)
    assert_error(
        lambda: log_param("lr", "0.2"),
        PRECONDITION,
        says=["'lr'", "'0.1'", "'0.2'", "write-once"],
    )
    params = by_key(get_run(stub, run_id).data.params)
    assert params == {"empty": "", "long": "v" * 6000, "lr": "0.1"}


@pytest.mark.parametrize(
    ("rpc", "field", "says"),
    [
        ("LogParam-key", "param.key", "relative path"),
        ("LogParam-value", "param.value", "at most 6000"),
        ("SetTag-key", "tag.key", "relative path"),
        ("SetTag-value", "tag.value", "at most 8000"),
    ],
    ids=str,
)
def test_single_entry_writes_name_the_request_field(
    stub: Stub, rpc: str, field: str, says: str
) -> None:
    """The violation path of a bad param or tag is the request field, `param.key` or
    `tag.key`: these requests hold one message, not a list. (SetExperimentTag is checked
    in test_set_experiment_tag_rejects_bad_tag.)"""
    run_id = new_run(stub).info.run_id
    calls: dict[str, Callable[[], Any]] = {
        "LogParam-key": lambda: stub.LogParam(
            pb.LogParamRequest(run_id=run_id, param=rpb.Param(key="/abs", value="v"))
        ),
        "LogParam-value": lambda: stub.LogParam(
            pb.LogParamRequest(run_id=run_id, param=rpb.Param(key="k", value="v" * 6001))
        ),
        "SetTag-key": lambda: stub.SetTag(
            pb.SetTagRequest(run_id=run_id, tag=run_tag("/abs", "v"))
        ),
        "SetTag-value": lambda: stub.SetTag(
            pb.SetTagRequest(run_id=run_id, tag=run_tag("k", "v" * 8001))
        ),
    }
    assert_error(calls[rpc], INVALID, field, says=says)


# ---------------------------------------------------------------------------------------
# Key rules, shared by metrics, params and tags
# ---------------------------------------------------------------------------------------

BAD_KEYS = [
    ("", "must not be empty"),
    ("k" * 251, "at most 250"),
    ("../x", "relative path"),
    ("/abs", "relative path"),
    ("a//b", "relative path"),
    ("a/./b", "relative path"),
    ("bad*chars", "may only hold"),
    ("semi;colon", "may only hold"),
]

KEYED_WRITES: dict[str, tuple[str, Callable[[Stub, str, str], Any]]] = {
    "LogMetric": (
        "metric.key",
        lambda s, r, k: s.LogMetric(pb.LogMetricRequest(run_id=r, metric=metric(k, 1.0))),
    ),
    "LogBatch-metric": (
        "metrics[0].key",
        lambda s, r, k: s.LogBatch(pb.LogBatchRequest(run_id=r, metrics=[metric(k, 1.0)])),
    ),
    "LogBatch-param": (
        "params[0].key",
        lambda s, r, k: s.LogBatch(
            pb.LogBatchRequest(run_id=r, params=[rpb.Param(key=k, value="v")])
        ),
    ),
    "LogBatch-tag": (
        "tags[0].key",
        lambda s, r, k: s.LogBatch(pb.LogBatchRequest(run_id=r, tags=[run_tag(k, "v")])),
    ),
    "GetMetricHistory": (
        "metric_key",
        lambda s, r, k: s.GetMetricHistory(pb.GetMetricHistoryRequest(run_id=r, metric_key=k)),
    ),
}


@pytest.mark.parametrize(("key", "says"), BAD_KEYS, ids=lambda v: repr(v)[:12])
@pytest.mark.parametrize("rpc", KEYED_WRITES, ids=str)
def test_key_rules(stub: Stub, rpc: str, key: str, says: str) -> None:
    run = new_run(stub)
    field, call = KEYED_WRITES[rpc]
    assert_error(lambda: call(stub, run.info.run_id, key), INVALID, field, says=says)
    assert get_run(stub, run.info.run_id) == run


@pytest.mark.parametrize("rpc", KEYED_WRITES, ids=str)
def test_key_rules_accept_the_whole_alphabet(stub: Stub, rpc: str) -> None:
    run_id = new_run(stub).info.run_id
    _, call = KEYED_WRITES[rpc]
    for key in ("k" * 250, "train/loss", "a.b-c_d e", "x/y.z/w", "Ünïcode"):
        call(stub, run_id, key)


NEWLINE_CASES: dict[str, tuple[str, Callable[[Stub, str], Any]]] = {
    "experiment_id": (
        "experiment_id",
        lambda s, eid: s.GetExperiment(pb.GetExperimentRequest(experiment_id=eid + "\n")),
    ),
    "run_id": (
        "run_id",
        lambda s, eid: s.GetRun(pb.GetRunRequest(run_id=create_run(s, eid).info.run_id + "\n")),
    ),
    "metric_key": (
        "metric.key",
        lambda s, eid: log_metric(s, create_run(s, eid).info.run_id, "loss\n", 1.0),
    ),
    "request_id": (
        "request_id",
        lambda s, eid: create_experiment(s, request_id=str(uuid.uuid4()) + "\n"),
    ),
}


@pytest.mark.parametrize("case", NEWLINE_CASES, ids=str)
def test_a_trailing_newline_is_not_accepted(stub: Stub, case: str) -> None:
    """Ids, keys and request ids are checked against their whole text: a trailing line feed
    is a character outside every allowed alphabet."""
    eid = create_experiment(stub).experiment_id
    field, call = NEWLINE_CASES[case]
    assert_error(lambda: call(stub, eid), INVALID, field)


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------


def test_log_metric_appends_points(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    log_metric(stub, run_id, "loss", 0.9, step=0, timestamp=100)
    log_metric(stub, run_id, "loss", 0.5, step=1, timestamp=200)
    log_metric(stub, run_id, "loss", 0.5, step=1, timestamp=200)  # no request_id: appended
    log_metric(stub, run_id, "loss", -3.0, step=-7, timestamp=0)  # any int64 step
    assert history(stub, run_id, "loss") == [
        (-7, 0, -3.0),
        (0, 100, 0.9),
        (1, 200, 0.5),
        (1, 200, 0.5),
    ]
    assert latest(get_run(stub, run_id)) == {"loss": (1, 200, 0.5)}


def test_log_metric_errors(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    assert_error(
        lambda: log_metric(stub, run_id, "m", 1.0, timestamp=-1),
        INVALID,
        "metric.timestamp",
        says="negative",
    )
    assert_error(
        lambda: log_metric(stub, run_id, "m", 1.0, request_id="x" * 65), INVALID, "request_id"
    )
    assert history(stub, run_id, "m") == []


def test_nan_and_infinities_round_trip(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    specials = {"nan": math.nan, "pos_inf": math.inf, "neg_inf": -math.inf}
    for key, value in specials.items():
        log_metric(stub, run_id, key, value, step=3, timestamp=30)
    series = [(0, 1, 1.5), (1, 2, math.nan), (2, 3, math.inf), (3, 4, -math.inf)]
    log_points(stub, run_id, "series", series)

    for key, value in specials.items():
        assert history(stub, run_id, key) == [(3, 30, same(value))]
    expected_series = [(s, t, same(v)) for s, t, v in series]
    assert history(stub, run_id, "series") == expected_series
    reduced = history(stub, run_id, "series", max_points=3)
    assert reduced[0] == expected_series[0] and reduced[-1] == expected_series[-1]
    assert len(reduced) <= 3 and set(reduced) <= set(expected_series)
    downsampled = stub.GetMetricHistory(
        pb.GetMetricHistoryRequest(run_id=run_id, metric_key="series", max_points=10)
    )
    assert points(downsampled.points) == expected_series
    bulk = stub.GetMetricHistoryBulk(
        pb.GetMetricHistoryBulkRequest(run_ids=[run_id], metric_key="series")
    )
    assert points(bulk.histories[0].points) == expected_series
    assert latest(get_run(stub, run_id)) == {
        "nan": (3, 30, "NaN"),
        "neg_inf": (3, 30, -math.inf),
        "pos_inf": (3, 30, math.inf),
        "series": (3, 4, -math.inf),
    }


LATEST_SEQUENCE = [
    # (step, timestamp, value), logged in this order
    (2, 100, 1.0),
    (3, 50, 2.0),  # a greater step wins over a greater timestamp
    (3, 60, 0.5),  # same step: the greater timestamp wins
    (3, 60, 0.7),  # same step and timestamp: the greater value wins
    (3, 60, 0.6),  # a smaller value does not
    (1, 999, 9.0),  # an older step never does
]


@pytest.mark.parametrize("how", ["one-by-one", "one-batch", "reversed-batch"])
def test_latest_metric_is_greatest_step_then_timestamp_then_value(stub: Stub, how: str) -> None:
    run_id = new_run(stub).info.run_id
    if how == "one-by-one":
        for step, ts, value in LATEST_SEQUENCE:
            log_metric(stub, run_id, "m", value, step=step, timestamp=ts)
    else:
        order = LATEST_SEQUENCE if how == "one-batch" else LATEST_SEQUENCE[::-1]
        log_points(stub, run_id, "m", order)
    assert latest(get_run(stub, run_id)) == {"m": (3, 60, 0.7)}
    found = search_runs(stub, filter="metrics.m = 0.7")
    assert [r.info.run_id for r in found.runs] == [run_id]


# ---------------------------------------------------------------------------------------
# LogBatch
# ---------------------------------------------------------------------------------------


def test_log_batch_writes_metrics_params_and_tags(stub: Stub) -> None:
    run_id = new_run(stub, run_name="r").info.run_id
    stub.LogBatch(
        pb.LogBatchRequest(
            run_id=run_id,
            metrics=[
                metric("loss", 0.9, 0, 10),
                metric("acc", 0.1, 0, 10),
                metric("loss", 0.7, 1, 20),
                metric("loss", 0.8, 1, 20),
            ],
            params=[rpb.Param(key="lr", value="0.1"), rpb.Param(key="lr", value="0.1")],
            tags=[run_tag("stage", "dev"), run_tag("stage", "prod")],  # the last value wins
        )
    )
    run = get_run(stub, run_id)
    assert history(stub, run_id, "loss") == [(0, 10, 0.9), (1, 20, 0.7), (1, 20, 0.8)]
    assert history(stub, run_id, "acc") == [(0, 10, 0.1)]
    assert latest(run) == {"acc": (0, 10, 0.1), "loss": (1, 20, 0.8)}
    assert by_key(run.data.params) == {"lr": "0.1"}
    assert by_key(run.data.tags) == {"mlflow.runName": "r", "stage": "prod"}
    stub.LogBatch(pb.LogBatchRequest(run_id=run_id))  # an empty batch is fine
    assert get_run(stub, run_id) == run


def test_log_batch_is_all_or_nothing(stub: Stub) -> None:
    run_id = new_run(stub, run_name="r").info.run_id
    stub.LogParam(pb.LogParamRequest(run_id=run_id, param=rpb.Param(key="lr", value="0.1")))
    before = get_run(stub, run_id)
    assert_error(
        lambda: stub.LogBatch(
            pb.LogBatchRequest(
                run_id=run_id,
                metrics=[metric("loss", 0.5, 0), metric("loss", 0.4, 1)],
                params=[rpb.Param(key="depth", value="3"), rpb.Param(key="lr", value="0.2")],
                tags=[run_tag("stage", "dev"), run_tag("mlflow.runName", "renamed")],
            )
        ),
        PRECONDITION,
        says=["'lr'", "write-once"],
    )
    assert get_run(stub, run_id) == before
    assert history(stub, run_id, "loss") == []


def test_log_batch_limits(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id

    def batch(metrics: int = 0, params: int = 0, tags: int = 0) -> Any:
        return stub.LogBatch(
            pb.LogBatchRequest(
                run_id=run_id,
                metrics=[metric("m", float(i), i) for i in range(metrics)],
                params=[rpb.Param(key=f"p{i}", value="v") for i in range(params)],
                tags=[run_tag(f"t{i}", "v") for i in range(tags)],
            )
        )

    assert_error(lambda: batch(metrics=1001), INVALID, "metrics", says="at most 1000")
    assert_error(lambda: batch(params=101), INVALID, "params", says="at most 100")
    assert_error(lambda: batch(tags=101), INVALID, "tags", says="at most 100")
    assert history(stub, run_id, "m") == []
    batch(metrics=1000, params=100, tags=100)  # exactly at the limits
    run = get_run(stub, run_id)
    assert len(history(stub, run_id, "m")) == 1000
    assert len(run.data.params) == 100
    assert len(run.data.tags) == 101  # and mlflow.runName


def test_log_batch_rejects_bad_entries(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id

    def batch(**fields: Any) -> Any:
        return stub.LogBatch(pb.LogBatchRequest(run_id=run_id, **fields))

    assert_error(
        lambda: batch(params=[rpb.Param(key="lr", value="0.1"), rpb.Param(key="lr", value="0.2")]),
        INVALID,
        "params[1].key",
        says="twice",
    )
    assert_error(
        lambda: batch(params=[rpb.Param(key="p", value="v" * 6001)]),
        INVALID,
        "params[0].value",
        says="at most 6000",
    )
    assert_error(
        lambda: batch(tags=[run_tag("t", "v" * 8001)]), INVALID, "tags[0].value", says="8000"
    )
    assert_error(lambda: batch(request_id="?" * 3), INVALID, "request_id")
    assert get_run(stub, run_id).data.params == []


def test_log_batch_violation_names_the_request_entry(stub: Stub) -> None:
    """The path points at the offending entry of `metrics`, counted in the request, even
    when earlier entries share a key."""
    run_id = new_run(stub).info.run_id
    good = [metric("a", 1.0, 0), metric("a", 2.0, 1)]
    assert_error(
        lambda: stub.LogBatch(
            pb.LogBatchRequest(run_id=run_id, metrics=[*good, metric("../b", 1)])
        ),
        INVALID,
        "metrics[2].key",
    )
    assert_error(
        lambda: stub.LogBatch(
            pb.LogBatchRequest(run_id=run_id, metrics=[*good, metric("a", 3.0, 2, timestamp=-1)])
        ),
        INVALID,
        "metrics[2].timestamp",
    )
    assert history(stub, run_id, "a") == []


# ---------------------------------------------------------------------------------------
# LogInputs
# ---------------------------------------------------------------------------------------


def test_log_inputs_is_idempotent_and_ordered(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    train = dataset("mnist", "d1", context="training")
    test = dataset("mnist-test", "d2", context="eval", split="test")
    stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=[train]))
    stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=[train]))  # no duplicate
    stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=[test, train]))
    inputs = list(get_run(stub, run_id).inputs.dataset_inputs)
    assert inputs == [train, test]
    # Tags are ordered by key.
    assert [t.key for t in inputs[1].tags] == ["context", "split"]
    # Another run of the experiment may use the same dataset.
    other = create_run(stub, get_run(stub, run_id).info.experiment_id).info.run_id
    stub.LogInputs(pb.LogInputsRequest(run_id=other, datasets=[train]))
    assert list(get_run(stub, other).inputs.dataset_inputs) == [train]
    # A search returns inputs too, unless it asks for info only.
    found = search_runs(stub, filter=f"attributes.run_id = '{run_id}'")
    assert list(found.runs[0].inputs.dataset_inputs) == [train, test]


def test_log_inputs_rejects_bad_datasets(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id

    def log(*items: rpb.DatasetInput) -> Any:
        return stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=list(items)))

    nameless = dataset()
    nameless.dataset.name = ""
    assert_error(lambda: log(dataset(), nameless), INVALID, "datasets[1].dataset.name")
    digestless = dataset()
    digestless.dataset.digest = ""
    assert_error(lambda: log(digestless), INVALID, "datasets[0].dataset.digest", says="required")
    long_digest = dataset(digest="d" * 37)
    assert_error(lambda: log(long_digest), INVALID, "datasets[0].dataset.digest", says="36")
    long_type = dataset()
    long_type.dataset.source_type = "t" * 65
    assert_error(lambda: log(long_type), INVALID, "datasets[0].dataset.source_type")
    many_tags = dataset(**{f"t{i}": "v" for i in range(21)})
    assert_error(lambda: log(many_tags), INVALID, "datasets[0].tags", says="at most 20")
    many = [dataset(digest=f"d{i}") for i in range(101)]
    assert_error(lambda: log(*many), INVALID, "datasets", says="at most 100")
    assert list(get_run(stub, run_id).inputs.dataset_inputs) == []


def test_log_inputs_names_the_offending_input_tag(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    bad = dataset(context="training")
    bad.tags.add(key="", value="v")
    assert_error(
        lambda: stub.LogInputs(pb.LogInputsRequest(run_id=run_id, datasets=[bad])),
        INVALID,
        "datasets[0].tags[1].key",
    )


# ---------------------------------------------------------------------------------------
# GetMetricHistory and GetMetricHistoryBulk
# ---------------------------------------------------------------------------------------


def test_metric_history_pages_visit_each_point_once_in_step_order(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    steps = [i // 2 for i in range(50)]  # each step twice, to page through ties
    random.Random(7).shuffle(steps)
    # Timestamps grow in logging order, so step-then-timestamp order is well defined.
    logged = [(step, 1000 + i, float(i)) for i, step in enumerate(steps)]
    log_points(stub, run_id, "loss", logged)

    token, pages, seen = "", [], []
    while True:
        reply = stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(
                run_id=run_id, metric_key="loss", page_size=7, page_token=token
            )
        )
        pages.append(len(reply.points.values))
        seen += points(reply.points)
        token = reply.next_page_token
        if not token:
            break
    assert pages == [7] * 7 + [1]
    assert seen == sorted(logged)
    assert len(set(seen)) == 50


def test_metric_history_orders_by_step_then_logging_order(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    log_points(stub, run_id, "m", [(1, 300, 3.0), (1, 100, 1.0), (0, 500, 0.0), (1, 200, 2.0)])
    expected = [(0, 500, 0.0), (1, 300, 3.0), (1, 100, 1.0), (1, 200, 2.0)]
    assert history(stub, run_id, "m") == expected
    assert history(stub, run_id, "m", page_size=1) == expected


def test_metric_history_of_missing_metric_is_empty(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    reply = stub.GetMetricHistory(pb.GetMetricHistoryRequest(run_id=run_id, metric_key="none"))
    assert reply == pb.GetMetricHistoryResponse(points=mpb.MetricColumns(key="none"))
    reply = stub.GetMetricHistory(
        pb.GetMetricHistoryRequest(run_id=run_id, metric_key="none", max_points=10)
    )
    assert reply == pb.GetMetricHistoryResponse(points=mpb.MetricColumns(key="none"))


def test_metric_history_max_points_keeps_the_shape(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    rng = random.Random(3)
    logged = [(step, 10_000 + step, rng.uniform(-1, 1)) for step in range(1500)]
    logged[613] = (613, 10_613, 1e6)  # a spike
    logged[271] = (271, 10_271, -1e6)  # a dip
    log_points(stub, run_id, "loss", logged)

    everything = stub.GetMetricHistory(
        pb.GetMetricHistoryRequest(run_id=run_id, metric_key="loss", max_points=10_000)
    )
    assert points(everything.points) == logged
    for max_points in (4, 5, 50, 999, 3):
        reply = stub.GetMetricHistory(
            pb.GetMetricHistoryRequest(run_id=run_id, metric_key="loss", max_points=max_points)
        )
        kept = points(reply.points)
        assert reply.next_page_token == ""
        assert 2 <= len(kept) <= max_points, f"{len(kept)} points for max_points={max_points}"
        assert kept[0] == logged[0] and kept[-1] == logged[-1]
        assert set(kept) <= set(logged), "every kept point is a logged point"
        assert kept == sorted(kept), "in step order"
        if max_points >= 4:  # room for the first, the last, the minimum and the maximum
            values = [v for _, _, v in kept]
            assert 1e6 in values and -1e6 in values, max_points


def test_metric_history_errors(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    log_points(stub, run_id, "m", [(i, i, float(i)) for i in range(5)])
    log_points(stub, run_id, "other", [(i, i, float(i)) for i in range(5)])

    def read(**fields: Any) -> Any:
        return stub.GetMetricHistory(pb.GetMetricHistoryRequest(run_id=run_id, **fields))

    token = read(metric_key="m", page_size=2).next_page_token
    assert token
    assert_error(lambda: read(metric_key="m", page_size=-1), INVALID, "page_size")
    assert_error(lambda: read(metric_key="m", page_size=100_001), INVALID, "page_size")
    assert_error(lambda: read(metric_key="m", max_points=2), INVALID, "max_points", says="3")
    assert_error(lambda: read(metric_key="m", max_points=10_001), INVALID, "max_points")
    assert_error(
        lambda: read(metric_key="m", max_points=10, page_token=token),
        INVALID,
        "page_token",
        says="max_points",
    )
    assert_error(lambda: read(metric_key="m", page_token="garbage!"), INVALID, "page_token")
    assert_error(lambda: read(metric_key="m", page_token="eyJ2IjoxfQ"), INVALID, "page_token")
    assert_error(
        lambda: read(metric_key="other", page_token=token),
        INVALID,
        "page_token",
        says="different query",
    )


def test_metric_history_bulk(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    long_run, short_run, silent_run = (create_run(stub, eid).info.run_id for _ in range(3))
    long_points = [(step, step, float(step % 17)) for step in range(1500)]
    log_points(stub, long_run, "loss", long_points)
    log_points(stub, short_run, "loss", [(0, 5, 0.5), (1, 6, 0.25)])
    log_points(stub, silent_run, "acc", [(0, 5, 0.5)])

    reply = stub.GetMetricHistoryBulk(
        pb.GetMetricHistoryBulkRequest(run_ids=[short_run, silent_run, long_run], metric_key="loss")
    )
    assert [h.run_id for h in reply.histories] == [short_run, silent_run, long_run]
    assert points(reply.histories[0].points) == [(0, 5, 0.5), (1, 6, 0.25)]
    assert points(reply.histories[1].points) == []
    default_kept = points(reply.histories[2].points)
    assert len(default_kept) <= 1000  # the default max_points
    assert default_kept[0] == long_points[0] and default_kept[-1] == long_points[-1]

    reply = stub.GetMetricHistoryBulk(
        pb.GetMetricHistoryBulkRequest(run_ids=[long_run], metric_key="loss", max_points=10)
    )
    kept = points(reply.histories[0].points)
    assert len(kept) <= 10 and kept[0] == long_points[0] and kept[-1] == long_points[-1]
    assert {v for _, _, v in kept} >= {0.0, 16.0}


def test_metric_history_bulk_errors(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    missing = missing_run_id()

    def bulk(run_ids: list[str], **fields: Any) -> Any:
        request = pb.GetMetricHistoryBulkRequest(run_ids=run_ids, metric_key="m", **fields)
        return stub.GetMetricHistoryBulk(request)

    assert_error(lambda: bulk([run_id, missing]), NOT_FOUND, says=missing)
    assert_error(lambda: bulk([]), INVALID, "run_ids", says="at least one")
    assert_error(lambda: bulk([run_id] * 101), INVALID, "run_ids", says="at most 100")
    assert_error(lambda: bulk([run_id, "bad"]), INVALID, "run_ids[1]")
    assert_error(lambda: bulk([run_id], max_points=10_001), INVALID, "max_points")
    assert_error(
        lambda: stub.GetMetricHistoryBulk(
            pb.GetMetricHistoryBulkRequest(run_ids=[run_id], metric_key="a//b")
        ),
        INVALID,
        "metric_key",
    )
    assert len(bulk([run_id] * 100).histories) == 100


# ---------------------------------------------------------------------------------------
# SearchRuns
# ---------------------------------------------------------------------------------------


@pytest.fixture
def runs(stub: Stub) -> dict[str, rpb.Run]:
    """Runs r0..r4 in experiment A (r4 deleted) and x0 in experiment B.

    r_i starts at 1000 + i, has metric acc = i / 10, param lr = 0.i and tag parity.
    """
    exp_a, exp_b = create_experiment(stub, "A"), create_experiment(stub, "B")
    made = {}
    for i in range(5):
        run_id = create_run(
            stub, exp_a.experiment_id, run_name=f"r{i}", start_time=1000 + i
        ).info.run_id
        stub.LogBatch(
            pb.LogBatchRequest(
                run_id=run_id,
                metrics=[metric("acc", i / 10, step=i)],
                params=[rpb.Param(key="lr", value=f"0.{i}")],
                tags=[run_tag("parity", "even" if i % 2 == 0 else "odd")],
            )
        )
        made[f"r{i}"] = get_run(stub, run_id)
    made["x0"] = create_run(stub, exp_b.experiment_id, run_name="x0", start_time=2000)
    stub.DeleteRun(pb.DeleteRunRequest(run_id=made["r4"].info.run_id))
    made["r4"] = get_run(stub, made["r4"].info.run_id)
    return made


def run_names(reply: pb.SearchRunsResponse) -> list[str]:
    return [r.info.run_name for r in reply.runs]


def test_search_runs_filters(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    eid = runs["r0"].info.experiment_id
    assert run_names(search_runs(stub, experiment_ids=[eid])) == ["r3", "r2", "r1", "r0"]
    assert run_names(search_runs(stub)) == ["x0", "r3", "r2", "r1", "r0"]  # every experiment
    for filter_text, expected in (
        ("metrics.acc > 0.15", ["r3", "r2"]),
        ("params.lr = '0.1'", ["r1"]),
        ("tags.parity = 'even' AND metrics.acc >= 0.2", ["r2"]),
        ("tags.parity = 'odd' OR attributes.run_name = 'r0'", ["r3", "r1", "r0"]),
        ("params.lr IN ('0.0', '0.3')", ["r3", "r0"]),
        ("attributes.start_time < 1002", ["r1", "r0"]),
        ("metrics.acc IS NULL", []),
    ):
        found = search_runs(stub, experiment_ids=[eid], filter=filter_text)
        assert run_names(found) == expected, filter_text
    # Full runs come back exactly as GetRun returns them.
    found = search_runs(stub, experiment_ids=[eid], filter="params.lr = '0.2'")
    assert list(found.runs) == [runs["r2"]]


def test_search_runs_orders(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    eid = runs["r0"].info.experiment_id
    for order_by, expected in (
        (["metrics.acc DESC"], ["r3", "r2", "r1", "r0"]),
        (["metrics.acc ASC"], ["r0", "r1", "r2", "r3"]),
        (["params.lr ASC"], ["r0", "r1", "r2", "r3"]),
        (["tags.parity ASC", "attributes.start_time ASC"], ["r0", "r2", "r1", "r3"]),
        (["attributes.run_name DESC"], ["r3", "r2", "r1", "r0"]),
    ):
        found = search_runs(stub, experiment_ids=[eid], order_by=order_by)
        assert run_names(found) == expected, order_by


def test_search_runs_view_types(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    eid = runs["r0"].info.experiment_id
    for view, expected in (
        (epb.VIEW_TYPE_UNSPECIFIED, ["r3", "r2", "r1", "r0"]),
        (epb.VIEW_TYPE_ACTIVE_ONLY, ["r3", "r2", "r1", "r0"]),
        (epb.VIEW_TYPE_DELETED_ONLY, ["r4"]),
        (epb.VIEW_TYPE_ALL, ["r4", "r3", "r2", "r1", "r0"]),
    ):
        assert run_names(search_runs(stub, experiment_ids=[eid], view_type=view)) == expected
    deleted = search_runs(stub, experiment_ids=[eid], view_type=epb.VIEW_TYPE_DELETED_ONLY)
    assert list(deleted.runs) == [runs["r4"]]


def test_search_runs_info_only(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    eid = runs["r0"].info.experiment_id
    stub.LogInputs(pb.LogInputsRequest(run_id=runs["r3"].info.run_id, datasets=[dataset()]))
    found = search_runs(stub, experiment_ids=[eid], run_view=pb.RUN_VIEW_INFO_ONLY)
    assert [r.info for r in found.runs] == [runs[n].info for n in ("r3", "r2", "r1", "r0")]
    for run in found.runs:
        assert run.data == rpb.RunData()
        assert run.inputs == rpb.RunInputs()
    full = search_runs(stub, experiment_ids=[eid], run_view=pb.RUN_VIEW_FULL)
    assert full.runs[0].data == runs["r3"].data
    assert len(full.runs[0].inputs.dataset_inputs) == 1


def test_search_runs_pages(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    def fetch(token: str) -> Any:
        reply = search_runs(
            stub,
            view_type=epb.VIEW_TYPE_ALL,
            order_by=["metrics.acc DESC"],
            page_size=2,
            page_token=token,
        )
        assert len(reply.runs) <= 2
        return reply

    found, pages = all_pages(fetch, "runs")
    # x0 has no acc: missing values sort last.
    assert [r.info.run_name for r in found] == ["r4", "r3", "r2", "r1", "r0", "x0"]
    assert pages == 3


def test_search_runs_pages_are_stable_under_inserts(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    eid = runs["r0"].info.experiment_id
    first = search_runs(stub, experiment_ids=[eid], page_size=2)
    assert run_names(first) == ["r3", "r2"]
    create_run(stub, eid, run_name="newest", start_time=5000)  # would sort first
    create_run(stub, eid, run_name="middle", start_time=1001)  # ties r1 on start_time
    rest, _ = all_pages(
        lambda token: search_runs(
            stub, experiment_ids=[eid], page_size=2, page_token=token or first.next_page_token
        ),
        "runs",
    )
    names = [r.info.run_name for r in rest]
    assert "r3" not in names and "r2" not in names and "newest" not in names
    assert {"r1", "r0"} <= set(names)


def test_search_runs_errors(stub: Stub, runs: dict[str, rpb.Run]) -> None:
    def search(**fields: Any) -> Any:
        return search_runs(stub, **fields)

    assert_error(lambda: search(filter="metrics.acc >"), INVALID, "filter", says="position")
    assert_error(lambda: search(filter="metrics.acc > 0.1 AND"), INVALID, "filter", says="position")
    assert_error(lambda: search(filter="metrics.acc LIKE 'x'"), INVALID, "filter", says="LIKE")
    assert_error(lambda: search(filter="colour = 'red'"), INVALID, "filter", says="'colour'")
    assert_error(lambda: search(filter="x" * (16 * 1024 + 1)), INVALID, "filter")
    assert_error(
        lambda: search(order_by=["metrics.acc SIDEWAYS"]), INVALID, "order_by", says="SIDEWAYS"
    )
    assert_error(lambda: search(order_by=["run_id"] * 4), INVALID, "order_by", says="3")
    assert_error(lambda: search(experiment_ids=["A"]), INVALID, "experiment_ids[0]")
    assert_error(lambda: search(experiment_ids=["1"] * 1001), INVALID, "experiment_ids")
    assert_error(lambda: search(page_size=50_001), INVALID, "page_size")
    assert_error(lambda: search(view_type=7), INVALID, "view_type")
    assert_error(lambda: search(page_token="not a token"), INVALID, "page_token")
    token = search(page_size=1).next_page_token
    assert_error(
        lambda: search(page_size=1, page_token=token, filter="metrics.acc > 0"),
        INVALID,
        "page_token",
        says="different query",
    )


# ---------------------------------------------------------------------------------------
# Idempotent retries through request_id
# ---------------------------------------------------------------------------------------


def test_create_experiment_retry_returns_the_first_result(stub: Stub) -> None:
    request_id = str(uuid.uuid4())
    first = create_experiment(stub, "retried", request_id=request_id)
    again = create_experiment(stub, "retried", request_id=request_id)
    assert again == first
    assert search_experiment_names(stub, filter="name LIKE 'retried%'") == ["retried"]
    assert_error(lambda: create_experiment(stub, "retried"), EXISTS)


def test_create_run_retry_returns_the_first_result(stub: Stub) -> None:
    eid = create_experiment(stub).experiment_id
    request_id = str(uuid.uuid4())
    first = create_run(stub, eid, run_name="once", request_id=request_id)
    again = create_run(stub, eid, run_name="once", request_id=request_id)
    assert again == first
    assert run_names(search_runs(stub, experiment_ids=[eid])) == ["once"]


def test_log_batch_retry_is_applied_once(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    request = pb.LogBatchRequest(
        run_id=run_id,
        metrics=[metric("loss", 0.5, 0), metric("loss", 0.4, 1)],
        params=[rpb.Param(key="lr", value="0.1")],
        tags=[run_tag("t", "v")],
        request_id=str(uuid.uuid4()),
    )
    assert stub.LogBatch(request) == stub.LogBatch(request) == pb.LogBatchResponse()
    assert history(stub, run_id, "loss") == [(0, 1000, 0.5), (1, 1000, 0.4)]
    run = get_run(stub, run_id)
    assert by_key(run.data.params) == {"lr": "0.1"}
    assert by_key(run.data.tags)["t"] == "v"


def test_log_columns_writes_atomically_once_and_within_limits(stub: Stub) -> None:
    run_id = new_run(stub, run_name="r").info.run_id
    steps = list(range(50_000))
    request = pb.LogColumnsRequest(
        run_id=run_id,
        metrics=[
            mpb.MetricColumns(key="loss", steps=steps, timestamps=steps, values=[0.5] * 50_000),
            mpb.MetricColumns(
                key="loss", steps=[7], timestamps=[7], values=[math.nan], worker="rank-1"
            ),
        ],
        params=[rpb.Param(key="lr", value="0.1")],
        tags=[run_tag("stage", "dev")],
        request_id=str(uuid.uuid4()),
    )
    assert stub.LogColumns(request) == stub.LogColumns(request) == pb.LogColumnsResponse()
    assert len(history(stub, run_id, "loss")) == 50_001
    run = get_run(stub, run_id)
    assert by_key(run.data.params) == {"lr": "0.1"}
    assert by_key(run.data.tags)["stage"] == "dev"

    too_many = pb.LogColumnsRequest(
        run_id=run_id,
        metrics=[
            mpb.MetricColumns(
                key="big", steps=[0] * 100_001, timestamps=[0] * 100_001, values=[0.0] * 100_001
            )
        ],
    )
    assert_error(lambda: stub.LogColumns(too_many), INVALID, "metrics", says="at most 100000")
    ragged = pb.LogColumnsRequest(
        run_id=run_id,
        metrics=[mpb.MetricColumns(key="r", steps=[1, 2], timestamps=[1], values=[1.0])],
    )
    assert_error(lambda: stub.LogColumns(ragged), INVALID, "metrics[0]", says="same length")
    refused = pb.LogColumnsRequest(
        run_id=run_id,
        metrics=[mpb.MetricColumns(key="after", steps=[1], timestamps=[1], values=[1.0])],
        params=[rpb.Param(key="lr", value="0.2")],
    )
    assert_error(lambda: stub.LogColumns(refused), PRECONDITION, says="'lr'")
    assert history(stub, run_id, "after") == history(stub, run_id, "big") == []


def test_log_metric_retry_is_applied_once(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    request_id = str(uuid.uuid4())
    for _ in range(3):
        log_metric(stub, run_id, "loss", 0.5, step=1, request_id=request_id)
    log_metric(stub, run_id, "loss", 0.5, step=1, request_id=str(uuid.uuid4()))
    assert history(stub, run_id, "loss") == [(1, 1000, 0.5), (1, 1000, 0.5)]


def test_request_id_reused_on_another_rpc_is_invalid(stub: Stub) -> None:
    request_id = str(uuid.uuid4())
    eid = create_experiment(stub, request_id=request_id).experiment_id
    on_create_run = assert_error(
        lambda: create_run(stub, eid, request_id=request_id),
        INVALID,
        says=["request_id", request_id, "CreateExperiment"],
    )
    run_id = create_run(stub, eid).info.run_id
    metric_id = str(uuid.uuid4())
    log_metric(stub, run_id, "m", 1.0, request_id=metric_id)
    on_log_batch = assert_error(
        lambda: stub.LogBatch(
            pb.LogBatchRequest(run_id=run_id, metrics=[metric("m", 2.0)], request_id=metric_id)
        ),
        INVALID,
        says=["request_id", "LogMetric"],
    )
    assert history(stub, run_id, "m") == [(0, 1000, 1.0)]
    assert run_names(search_runs(stub, experiment_ids=[eid])) == [
        get_run(stub, run_id).info.run_name
    ]
    # Bad input names its field in a BadRequest, like every other INVALID_ARGUMENT.
    for details in (on_create_run, on_log_batch):
        assert "request_id" in details.violations, details


# ---------------------------------------------------------------------------------------
# LogStream
# ---------------------------------------------------------------------------------------


def open_stream(writer_id: str) -> pb.LogStreamRequest:
    return pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id=writer_id))


def stream_batch(
    seq: int, run_id: str, steps: Sequence[int] = (), key: str = "loss", **extra: Any
) -> pb.LogStreamRequest:
    columns = [
        mpb.MetricColumns(
            key=key,
            steps=list(steps),
            timestamps=[1000 + s for s in steps],
            values=[s / 10 for s in steps],
        )
    ]
    return pb.LogStreamRequest(
        batch=pb.LogStreamBatch(seq=seq, run_id=run_id, metrics=columns if steps else [], **extra)
    )


def stream(
    stub: Stub, requests: Sequence[pb.LogStreamRequest]
) -> tuple[list[Any], grpc.RpcError | None]:
    """The answers of one LogStream, as ('opened', n) and ('ack', seq), and its error."""
    answers: list[Any] = []
    try:
        for reply in stub.LogStream(iter(requests), timeout=60):
            kind = reply.WhichOneof("kind")
            value = reply.opened.last_committed_seq if kind == "opened" else reply.ack.seq
            answers.append((kind, value))
    except grpc.RpcError as exc:
        return answers, exc
    return answers, None


def test_log_stream_commits_and_acknowledges_in_order(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    writer = str(uuid.uuid4())
    answers, error = stream(
        stub,
        [
            open_stream(writer),
            stream_batch(1, run_id, range(0, 3), params=[rpb.Param(key="lr", value="0.1")]),
            stream_batch(2, run_id, range(3, 6), tags=[run_tag("phase", "warmup")]),
            stream_batch(3, run_id, range(6, 9), tags=[run_tag("phase", "main")]),
        ],
    )
    assert error is None
    assert answers == [("opened", 0), ("ack", 1), ("ack", 2), ("ack", 3)]
    assert history(stub, run_id, "loss") == [(s, 1000 + s, s / 10) for s in range(9)]
    run = get_run(stub, run_id)
    assert by_key(run.data.params) == {"lr": "0.1"}
    assert by_key(run.data.tags)["phase"] == "main"
    assert latest(run) == {"loss": (8, 1008, 0.8)}


def test_log_stream_reconnect_resends_without_duplicates(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    writer = str(uuid.uuid4())
    batches = [stream_batch(seq, run_id, [seq]) for seq in range(1, 6)]
    answers, error = stream(stub, [open_stream(writer), *batches[:3]])
    assert error is None and answers[-1] == ("ack", 3)

    # The connection broke before the client saw the acks of 2 and 3: it reconnects,
    # learns what is committed, and resends from its last known ack.
    answers, error = stream(stub, [open_stream(writer), *batches[1:]])
    assert error is None
    assert answers == [("opened", 3), ("ack", 2), ("ack", 3), ("ack", 4), ("ack", 5)]
    assert history(stub, run_id, "loss") == [(s, 1000 + s, s / 10) for s in range(1, 6)]

    answers, error = stream(stub, [open_stream(writer)])
    assert (answers, error) == ([("opened", 5)], None)
    # Another writer has its own numbering.
    answers, error = stream(stub, [open_stream(str(uuid.uuid4())), stream_batch(1, run_id, [9])])
    assert (answers, error) == ([("opened", 0), ("ack", 1)], None)


def test_log_stream_sequence_gap_fails_precondition(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    writer = str(uuid.uuid4())
    answers, error = stream(
        stub, [open_stream(writer), stream_batch(1, run_id, [1]), stream_batch(3, run_id, [3])]
    )
    assert answers == [("opened", 0), ("ack", 1)]
    check_error(error, PRECONDITION, says="resend from 2", metadata={"seq": "3"})
    assert history(stub, run_id, "loss") == [(1, 1001, 0.1)]
    answers, _ = stream(stub, [open_stream(writer)])
    assert answers == [("opened", 1)]


def test_log_stream_must_open_first(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    answers, error = stream(stub, [stream_batch(1, run_id, [1])])
    assert answers == []
    check_error(error, INVALID, "open", says="first message")
    answers, error = stream(stub, [open_stream(str(uuid.uuid4())), open_stream("again")])
    assert answers == [("opened", 0)]
    check_error(error, INVALID, "open")
    answers, error = stream(stub, [open_stream("")])
    check_error(error, INVALID, "open.writer_id", says="required")
    answers, error = stream(stub, [open_stream("w" * 65)])
    check_error(error, INVALID, "open.writer_id", says="at most 64")
    assert history(stub, run_id, "loss") == []


def test_log_stream_batch_for_missing_run(stub: Stub) -> None:
    run_id = new_run(stub).info.run_id
    missing = missing_run_id()
    answers, error = stream(
        stub,
        [
            open_stream(str(uuid.uuid4())),
            stream_batch(1, run_id, [1]),
            stream_batch(2, missing, [2]),
        ],
    )
    assert answers == [("opened", 0), ("ack", 1)]
    check_error(error, NOT_FOUND, says=missing, metadata={"seq": "2"})
    assert history(stub, run_id, "loss") == [(1, 1001, 0.1)]  # earlier batches stay


def test_log_stream_batch_errors_carry_their_seq(stub: Stub) -> None:
    run = new_run(stub)
    run_id = run.info.run_id
    deleted = create_run(stub, run.info.experiment_id).info.run_id
    stub.DeleteRun(pb.DeleteRunRequest(run_id=deleted))
    stub.LogParam(pb.LogParamRequest(run_id=run_id, param=rpb.Param(key="lr", value="0.1")))
    cases = [
        (stream_batch(1, deleted, [1]), PRECONDITION, None, "restore"),
        (
            stream_batch(1, run_id, [1], params=[rpb.Param(key="lr", value="0.2")]),
            PRECONDITION,
            None,
            "write-once",
        ),
        (stream_batch(1, run_id, [1], key="../x"), INVALID, "batch.metrics[0].key", "relative"),
        (stream_batch(1, "nope", [1]), INVALID, "batch.run_id", "run id"),
        (stream_batch(0, run_id, [1]), INVALID, "batch.seq", "at least 1"),
    ]
    for batch, expected, field, says in cases:
        answers, error = stream(stub, [open_stream(str(uuid.uuid4())), batch])
        assert answers == [("opened", 0)]
        check_error(error, expected, field, says=says, metadata={"seq": str(batch.batch.seq)})
    uneven = stream_batch(1, run_id, [1, 2])
    del uneven.batch.metrics[0].values[:]
    _, error = stream(stub, [open_stream(str(uuid.uuid4())), uneven])
    check_error(error, INVALID, "batch.metrics[0]", says="same length", metadata={"seq": "1"})
    assert history(stub, run_id, "loss") == []
    assert by_key(get_run(stub, run_id).data.params) == {"lr": "0.1"}
