"""Experiments and runs of the fluent API: set_experiment, start_run, end_run."""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import sys
import time
from collections.abc import Mapping
from types import TracebackType

from trackway.client import Experiment, Run, RunData, RunInfo, TrackwayClient, heartbeat
from trackway.client.logger import BackgroundLogger
from trackway.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    TrackwayError,
    Unavailable,
)
from trackway.fluent import state, system_metrics
from trackway.fluent.system_metrics import SystemMonitor

PARENT_RUN_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"


class ActiveRun:
    """A run started (or resumed) by start_run. As a context manager it ends the run:
    FINISHED, FAILED when an exception leaves the block, KILLED on KeyboardInterrupt."""

    def __init__(self, run: Run, client: TrackwayClient, *, owned: bool) -> None:
        self.run = run
        self.client = client
        self.logger: BackgroundLogger = client.logger
        self.owned = owned
        self.run_id = run.info.run_id
        self.monitor: SystemMonitor | None = None
        self.leased = False  # this process heartbeats the run's lease until it ends

    def _keep_alive(self, lease_seconds: int, *, at_once: bool = False) -> None:
        if lease_seconds:
            self.client.heartbeats.add(self.run_id, lease_seconds, at_once=at_once)
            self.leased = True

    @property
    def info(self) -> RunInfo:
        """The run's info when it started or was resumed."""
        return self.run.info

    @property
    def data(self) -> RunData:
        """The run's data when it started or was resumed (see get_run for the latest)."""
        return self.run.data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = status_for(exc_type, exc)
        if exc_type is None:
            end_run(status, _run=self)
            return
        try:
            end_run(status, _run=self)
        except Exception as failure:  # the block's own exception matters more
            print(f"trackway: error: while ending run {self.run_id}: {failure}", file=sys.stderr)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run_id} owned={self.owned}>"


def status_for(kind: type[BaseException] | None, exc: BaseException | None = None) -> str:
    if kind is None:
        return "FINISHED"
    if issubclass(kind, KeyboardInterrupt):
        return "KILLED"
    if issubclass(kind, SystemExit) and isinstance(exc, SystemExit) and exc.code in (0, None):
        return "FINISHED"
    return "FAILED"


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Makes an experiment the active one for new runs of this process, creating it
    (by name) when it does not exist."""
    if (experiment_name is None) == (experiment_id is None):
        raise ValueError("give exactly one of experiment_name and experiment_id")
    client = state.client()
    if experiment_id is not None:
        exp = client.get_experiment(experiment_id)
    else:
        assert experiment_name is not None
        exp = _get_or_create(client, experiment_name)
    if exp.lifecycle_stage != "active":
        raise FailedPrecondition(
            f"experiment {exp.name!r} ({exp.experiment_id}) is deleted; restore it or "
            "choose another name"
        )
    state.process().experiment_id = exp.experiment_id
    return exp


def _get_or_create(client: TrackwayClient, name: str) -> Experiment:
    try:
        return client.get_experiment_by_name(name)
    except NotFound:
        pass
    try:
        return client.get_experiment(client.create_experiment(name))
    except AlreadyExists:  # another process created it meanwhile
        return client.get_experiment_by_name(name)


def _active_experiment_id(client: TrackwayClient) -> str:
    proc = state.process()
    if proc.experiment_id:
        return proc.experiment_id
    env_id = os.environ.get(state.EXPERIMENT_ID_ENV)
    if env_id:
        return env_id
    name = os.environ.get(state.EXPERIMENT_NAME_ENV) or state.DEFAULT_EXPERIMENT
    proc.experiment_id = _get_or_create(client, name).experiment_id
    return proc.experiment_id


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, object] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Starts a run, or resumes one.

    - `run_id`: resume that run (this process then ends it, as MLflow does).
    - Otherwise, when this thread has no active run and TRACKWAY_RUN_ID is set, attach
      to that run: the processes of one distributed job share a run this way. An
      attached process flushes at end_run but leaves the run's status to its creator.
    - Otherwise create a run in `experiment_id`, else the active experiment (see
      set_experiment, TRACKWAY_EXPERIMENT_ID, TRACKWAY_EXPERIMENT_NAME, else
      "Default"). With `nested=True` it becomes a child of this thread's active run.

    `log_system_metrics` samples CPU, memory, disk and network into the run (needs
    psutil; default: TRACKWAY_ENABLE_SYSTEM_METRICS_LOGGING).

    A run this process creates or resumes holds a lease of TRACKWAY_RUN_LEASE_SECONDS
    (default 60; 0 for none), renewed by a background heartbeat until end_run: if the
    process dies without ending it (SIGKILL, a lost node), the server marks it FAILED
    with a `trackway.failure_reason` tag once the lease runs out. Attached processes
    leave that to the run's creator.
    """
    runs = state.stack()
    if runs and not nested:
        raise FailedPrecondition(
            f"run {runs[-1].run_id} is already active in this thread; end it first, or "
            "start a nested run with start_run(nested=True)"
        )
    client = state.client()
    lease = heartbeat.lease_seconds_from_env()
    env_run = os.environ.get(state.RUN_ID_ENV) if not runs else None
    if run_id or env_run:
        active = _resume(client, run_id or str(env_run), owned=bool(run_id))
        if active.owned:
            active._keep_alive(lease, at_once=True)  # the first heartbeat sets the lease
    else:
        parent = parent_run_id or (runs[-1].run_id if runs else "")
        all_tags = {**_system_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        if description:
            all_tags[NOTE_TAG] = description
        if parent:
            all_tags[PARENT_RUN_TAG] = parent
        run = client.create_run(
            experiment_id or _active_experiment_id(client),
            run_name or "",
            tags=all_tags,
            user_id=all_tags.get("mlflow.user", ""),
            parent_run_id=parent,
            lease_seconds=lease,
        )
        active = ActiveRun(run, client, owned=True)
        active._keep_alive(lease)
    if system_metrics.enabled(log_system_metrics):
        active.monitor = system_metrics.SystemMonitor(active.logger, active.run_id)
    runs.append(active)
    proc = state.process()
    with proc.lock:
        proc.runs.append(active)
    return active


def _resume(client: TrackwayClient, run_id: str, *, owned: bool) -> ActiveRun:
    run = client.get_run(run_id)
    if run.info.lifecycle_stage != "active":
        raise FailedPrecondition(f"run {run_id} is deleted; restore it before resuming it")
    if owned and run.info.status != "RUNNING":
        client.update_run(run_id, status="RUNNING")
    return ActiveRun(run, client, owned=owned)


def _system_tags() -> dict[str, str]:
    tags = {"mlflow.source.type": "LOCAL", "mlflow.source.name": sys.argv[0] if sys.argv else ""}
    with contextlib.suppress(KeyError, OSError):
        tags["mlflow.user"] = getpass.getuser()
    return {k: v for k, v in tags.items() if v}


def active_run() -> ActiveRun | None:
    """This thread's innermost active run, or None."""
    runs = state.stack()
    return runs[-1] if runs else None


def last_active_run() -> Run | None:
    """The run most recently ended in this process, re-read from the server."""
    run_id = state.process().last_run_id
    return state.client().get_run(run_id) if run_id else None


def end_run(status: str | None = None, *, _run: ActiveRun | None = None) -> None:
    """Ends this thread's innermost active run: flushes its logged data, then sets its
    status (default: FAILED while an exception is being handled, KILLED for
    KeyboardInterrupt, else FINISHED). Raises the errors of data the server refused."""
    runs = state.stack()
    if _run is None:
        if not runs:
            return
        _run = runs[-1]
    if status is None:
        kind, exc, _ = sys.exc_info()
        status = status_for(kind, exc)
    if _run in runs:
        runs.remove(_run)
    _finish(_run, status.upper(), flush_timeout=None)


def _finish(run: ActiveRun, status: str, flush_timeout: float | None) -> None:
    proc = state.process()
    with proc.lock:
        if run in proc.runs:
            proc.runs.remove(run)
        proc.last_run_id = run.run_id
    if run.monitor is not None:
        run.monitor.stop()
    try:
        _flush_and_end(run, status, flush_timeout)
    finally:
        # Even when the run could not be ended: this process is done with it, and a
        # run left RUNNING is then failed by the server once its lease runs out.
        if run.leased:
            run.client.heartbeats.discard(run.run_id)


def _flush_and_end(run: ActiveRun, status: str, flush_timeout: float | None) -> None:
    try:
        run.logger.flush(flush_timeout)
    except Unavailable:
        raise  # the server is unreachable: the status would not get there either
    except TrackwayError:
        # The server refused some data: still end the run, then say what was refused.
        if run.owned:
            with contextlib.suppress(TrackwayError):
                run.client.set_terminated(run.run_id, status)
        raise
    if run.owned:
        run.client.set_terminated(run.run_id, status)


def get_run(run_id: str) -> Run:
    return state.client().get_run(run_id)


def _end_runs_at_exit() -> None:
    """Ends the runs still active when the interpreter exits, innermost first, all within
    the logger's exit timeout; says on stderr what went wrong or was lost."""
    proc = state.process()
    with proc.lock:
        left = list(reversed(proc.runs))
    if not left:
        return
    status = state.exit_status()
    limit = left[0].logger.config.exit_timeout
    deadline = time.monotonic() + limit
    for run in left:
        try:
            _finish(run, status, flush_timeout=max(0.0, deadline - time.monotonic()))
        except Unavailable:
            try:
                lost = run.logger.close(timeout=0)
            except TrackwayError:
                lost = 0
            print(
                f"trackway: warning: run {run.run_id} was not ended: the tracking server "
                f"did not answer within {limit:g} s of exit; {lost} logged points are lost",
                file=sys.stderr,
            )
        except Exception as exc:
            print(f"trackway: error: while ending run {run.run_id}: {exc}", file=sys.stderr)


atexit.register(_end_runs_at_exit)
