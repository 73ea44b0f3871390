"""`trackway.projects.run`: fetch, validate, prepare the environment, create the run, start.

Everything that can be checked is checked before the run exists: the MLproject file,
the entry point, every parameter against its type, the environment manager's tool and
the environment itself. Only then is the run created (params, and MLflow's source, git
and project tags) and the command started with TRACKWAY_RUN_ID, TRACKWAY_TRACKING_URI
and TRACKWAY_EXPERIMENT_ID, so that `trackway.start_run()` in the command attaches to it.

Inside a project run (TRACKWAY_RUN_ID set, or a fluent run active in this thread), a
new project run becomes a child of that run: multi-step workflows need nothing else.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from trackway.client import TrackwayClient
from trackway.errors import AlreadyExists, NotFound
from trackway.fluent import state
from trackway.projects import environments, params, spec
from trackway.projects.environments import Environment
from trackway.projects.fetch import Source, fetch
from trackway.projects.submitted import (
    ExecutionError,
    SubmittedRun,
    stop_signals_raise,
)
from trackway.tracking import limits

log = logging.getLogger("trackway.projects")

PARENT_RUN_TAG = "mlflow.parentRunId"
Output = int | IO[bytes] | IO[str] | None


@dataclass
class Prepared:
    """A validated project run, its environment ready, not started yet."""

    source: Source
    entry_point: str
    values: params.Resolved
    command: str
    environment: Environment


def prepare(
    uri: str,
    entry_point: str = "main",
    parameters: Mapping[str, object] | None = None,
    *,
    version: str | None = None,
    env_manager: str | None = None,
    progress: Callable[[str], None] = log.info,
) -> Prepared:
    """Everything before the run exists; raises InvalidArgument or FailedPrecondition."""
    source = fetch(uri, version)
    try:
        project = spec.load(source.directory)
        entry = project.entry_point(entry_point)
        values = params.resolve(
            entry, parameters or {}, cwd=Path.cwd(), project_dir=source.directory
        )
        manager = environments.choose(project, env_manager)
        environment = environments.prepare(project, manager, progress)
    except BaseException:
        source.cleanup()
        raise
    return Prepared(source, entry.name, values, params.render(entry, values), environment)


def start(
    prepared: Prepared,
    *,
    tracking_uri: str | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    stdout: Output = None,
) -> SubmittedRun:
    """Creates the run and starts the command; the returned run is not waited for."""
    client = TrackwayClient(tracking_uri or state.tracking_uri())
    try:
        parent = _parent_run_id()
        exp_id = _experiment(client, experiment_name, experiment_id, parent)
        tags = _tags(prepared, parent)
        run = client.create_run(
            exp_id,
            run_name or "",
            tags=tags,
            user_id=tags.get("mlflow.user", ""),
            parent_run_id=parent,
        )
    except BaseException:
        client.close()
        prepared.source.cleanup()
        raise
    run_id = run.info.run_id
    process: subprocess.Popen[bytes] | None = None
    try:
        items = list(prepared.values.everything.items())
        for i in range(0, len(items), limits.MAX_BATCH_PARAMS):
            client.log_batch(run_id, params=items[i : i + limits.MAX_BATCH_PARAMS])
        run_vars = {
            state.RUN_ID_ENV: run_id,
            state.EXPERIMENT_ID_ENV: exp_id,
            "TRACKWAY_TRACKING_URI": client.target.uri,
        }
        env = prepared.environment
        process = subprocess.Popen(
            env.argv(prepared.command, prepared.source.directory, run_vars),
            cwd=prepared.source.directory,
            env=env.environ(run_vars),
            stdout=stdout,
            start_new_session=True,  # its own process group: signals reach all it starts
        )
        return SubmittedRun(run_id, exp_id, prepared.command, process, client, prepared.source)
    except BaseException as exc:
        if process is not None:
            # Ctrl-C between the start and the SubmittedRun: nothing else would stop it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, status)
        client.close()
        prepared.source.cleanup()
        raise


def run(
    uri: str = ".",
    entry_point: str = "main",
    parameters: Mapping[str, object] | None = None,
    *,
    version: str | None = None,
    env_manager: str | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    synchronous: bool = True,
) -> SubmittedRun:
    """Runs an MLflow-style project and returns its SubmittedRun.

    - `uri`: a local directory, or a git repository (`https://...`, `file:///...`, `git@...`)
      with an optional `#sub/dir`; `version` checks out a commit, branch or tag.
    - `parameters`: values for the entry point's parameters; undeclared ones are passed
      as `--key value`.
    - `env_manager`: local, virtualenv, conda or docker (default: what the project declares).
    - `synchronous=True` waits, and raises ExecutionError unless the run ends FINISHED;
      with False the run goes on in the background (`wait()`, `cancel()`), and the
      interpreter waits for it before exiting.
    """
    prepared = prepare(uri, entry_point, parameters, version=version, env_manager=env_manager)
    log.info("running %s in %s", prepared.command, prepared.source.directory)
    if not synchronous:
        submitted = start(
            prepared,
            tracking_uri=tracking_uri,
            experiment_name=experiment_name,
            experiment_id=experiment_id,
            run_name=run_name,
        )
        submitted.watch_in_background()
        return submitted
    # From before the command starts: a stop signal at any moment stops it.
    with stop_signals_raise():
        submitted = start(
            prepared,
            tracking_uri=tracking_uri,
            experiment_name=experiment_name,
            experiment_id=experiment_id,
            run_name=run_name,
        )
        try:
            finished = submitted.wait()
        except KeyboardInterrupt:
            submitted.cancel()  # returns at once when wait() already stopped it
            raise
    if not finished:
        raise failure(submitted)
    return submitted


def failure(submitted: SubmittedRun) -> ExecutionError:
    status = submitted.get_status()
    code = submitted.exit_code
    why = "it was stopped" if status == "KILLED" else f"the command exited with code {code}"
    return ExecutionError(
        f"project run {submitted.run_id} ended {status}: {why}",
        metadata={"run_id": submitted.run_id, "status": status},
    )


def _parent_run_id() -> str:
    """This thread's active fluent run, else the project run this process belongs to."""
    runs = state.stack()
    if runs:
        return runs[-1].run_id
    return os.environ.get(state.RUN_ID_ENV, "")


def _experiment(client: TrackwayClient, name: str | None, eid: str | None, parent: str) -> str:
    if eid:
        return client.get_experiment(eid).experiment_id
    if name:
        return _get_or_create(client, name)
    if parent:
        return client.get_run(parent).info.experiment_id
    found = state.process().experiment_id or os.environ.get(state.EXPERIMENT_ID_ENV)
    if found:
        return found
    return _get_or_create(
        client, os.environ.get(state.EXPERIMENT_NAME_ENV) or state.DEFAULT_EXPERIMENT
    )


def _get_or_create(client: TrackwayClient, name: str) -> str:
    try:
        return client.get_experiment_by_name(name).experiment_id
    except NotFound:
        pass
    try:
        return client.create_experiment(name)
    except AlreadyExists:  # created by another launcher meanwhile
        return client.get_experiment_by_name(name).experiment_id


def _tags(prepared: Prepared, parent: str) -> dict[str, str]:
    source = prepared.source
    tags = {
        "mlflow.source.name": source.name,
        "mlflow.source.type": "PROJECT",
        "mlflow.project.entryPoint": prepared.entry_point,
        "mlflow.project.env": prepared.environment.manager,
        "mlflow.project.backend": "local",
        "mlflow.source.git.commit": source.git_commit,
        "mlflow.source.git.repoURL": source.git_repo_url,
        "mlflow.source.git.branch": source.git_branch,
        PARENT_RUN_TAG: parent,
    }
    with contextlib.suppress(KeyError, OSError):
        tags["mlflow.user"] = getpass.getuser()
    return {k: v[: limits.MAX_RUN_TAG_VALUE_LENGTH] for k, v in tags.items() if v}
