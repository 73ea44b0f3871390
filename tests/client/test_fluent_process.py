"""The fluent API across processes: fork, and how the interpreter's end ends runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import trackway
from tests.support.procs import ServerProcess
from trackway.client import TrackwayClient


def _script(fluent: TrackwayClient, body: str) -> subprocess.CompletedProcess[str]:
    code = "import sys, trackway\n" + textwrap.dedent(body)
    env = {**os.environ, "TRACKWAY_TRACKING_URI": fluent.tracking_uri}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def _last_run(fluent: TrackwayClient, stdout: str) -> str:
    run_id = stdout.strip().splitlines()[-1]
    assert len(run_id) == 32, stdout
    return run_id


def test_exit_without_end_run_flushes_and_finishes(fluent: TrackwayClient) -> None:
    done = _script(
        fluent,
        """
        run = trackway.start_run()
        print(run.run_id, flush=True)
        for step in range(30_000):
            trackway.log_metric("loss", 1.0, step=step)
        trackway.log_param("p", 1)
        """,
    )
    assert done.returncode == 0, done.stderr
    run_id = _last_run(fluent, done.stdout)
    run = fluent.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"p": "1"}
    assert len(fluent.get_metric_history(run_id, "loss")) == 30_000


@pytest.mark.parametrize(
    ("ending", "status", "code"),
    [
        ("raise RuntimeError('crash')", "FAILED", 1),
        ("raise KeyboardInterrupt", "KILLED", -2),  # Python re-raises SIGINT on exit
        ("sys.exit(3)", "FAILED", 3),
        ("sys.exit(0)", "FINISHED", 0),
    ],
)
def test_runs_left_open_get_the_status_of_the_exit(
    fluent: TrackwayClient, ending: str, status: str, code: int
) -> None:
    done = _script(
        fluent,
        f"""
        run = trackway.start_run()
        print(run.run_id, flush=True)
        trackway.log_metric("m", 1.0)
        {ending}
        """,
    )
    assert done.returncode == code, done.stderr
    run_id = _last_run(fluent, done.stdout)
    assert fluent.get_run(run_id).info.status == status
    assert len(fluent.get_metric_history(run_id, "m")) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_has_its_own_runs_and_logger(fluent: TrackwayClient) -> None:
    parent = trackway.start_run()
    trackway.log_metric("parent", 0.0, step=0)
    trackway.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if trackway.active_run() is None:
                with trackway.start_run(nested=False) as child:
                    for step in range(1000):
                        trackway.log_metric("child", 1.0, step=step)
                    print(child.run_id, flush=True)
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    for step in range(1, 1000):
        trackway.log_metric("parent", 0.0, step=step)
    assert trackway.active_run() is parent
    trackway.end_run()
    assert len(fluent.get_metric_history(parent.run_id, "parent")) == 1000
    assert fluent.get_metric_history(parent.run_id, "child") == []
    children = fluent.search_runs([parent.info.experiment_id], "metrics.child = 1")
    assert len(children) == 1
    assert len(fluent.get_metric_history(children[0].info.run_id, "child")) == 1000


def test_exit_with_the_server_gone_is_bounded_and_reported(tmp_path: Path, clean_env: None) -> None:
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'gone.db'}", (tmp_path / "a").as_uri(), tmp_path / "log"
    )
    code = textwrap.dedent(
        """
        import sys, trackway
        run = trackway.start_run()
        print(run.run_id, flush=True)
        sys.stdin.readline()  # the test takes the server away meanwhile
        for step in range(1000):
            trackway.log_metric("m", 1.0, step=step)
        """
    )
    env = {
        **os.environ,
        "TRACKWAY_TRACKING_URI": f"grpc://{server.target}",
        "TRACKWAY_LOGGER_EXIT_TIMEOUT": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()
    server.kill9()
    started = time.monotonic()
    proc.stdin.write("\n")
    proc.stdin.flush()
    _, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - started
    server.close()
    assert proc.returncode == 0
    assert elapsed < 12, elapsed
    assert "was not ended" in err and "1000 logged points are lost" in err
    assert "Traceback" not in err
