"""`trackway run` as a real subprocess against a live server: the run it creates, what the
command logs into it, and the status that the command's end gives it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.projects.conftest import (
    LOGGING_SCRIPT,
    Launcher,
    all_runs,
    child_env,
    only_run,
    write_project,
)
from trackway.client import TrackwayClient

MLPROJECT = """
name: demo
entry_points:
  main:
    parameters:
      epochs: {type: int, default: 3}
      alpha: float
      data: {type: path, default: data.csv}
    command: "python train.py --epochs {epochs} --alpha {alpha} --data {data}"
  fail:
    parameters:
      code: {type: int, default: 3}
    command: "python -c 'import sys; print(\\"failing\\"); sys.exit(int(sys.argv[1]))' {code}"
  sleep:
    command: "python sleeper.py"
"""

SLEEPER = """
import os, signal, subprocess, sys, time
# A grandchild in the same process group: stopping the run must reach it too.
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open("pids", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
print("ready", flush=True)
time.sleep(300)
"""


def _project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "demo",
        {"MLproject": MLPROJECT, "train.py": LOGGING_SCRIPT, "sleeper.py": SLEEPER},
    )


def test_run_logs_from_the_child_and_finishes(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    done = trackway_run(
        str(project), "-P", "alpha=0.5", "-P", "extra=x y", "--experiment-name", "demo-exp"
    )
    assert done.code == 0, done.err
    run = only_run(api)
    assert f"attached to {run.info.run_id}" in done.out  # the child's output streamed through
    assert run.info.status == "FINISHED" and run.info.end_time
    assert api.get_experiment(run.info.experiment_id).name == "demo-exp"
    assert run.data.metrics == {"accuracy": 0.75}
    assert run.data.params == {
        "epochs": "3",
        "alpha": "0.5",
        "data": str(project / "data.csv"),
        "extra": "x y",
        "seen_argv": f"--epochs 3 --alpha 0.5 --data {project / 'data.csv'} --extra x y",
    }
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == str(project)
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "local"
    assert "mlflow.parentRunId" not in tags
    assert f"run {run.info.run_id} FINISHED" in done.err


def test_failing_command_ends_failed_with_its_exit_code(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    done = trackway_run(str(_project(tmp_path)), "-e", "fail", "-P", "code=7")
    assert done.code == 7
    assert "failing" in done.out
    assert done.err.strip().splitlines()[-1] == (
        f"trackway: error: project run {only_run(api).info.run_id} ended FAILED: the command "
        "exited with code 7"
    )
    assert "Traceback" not in done.err
    assert only_run(api).info.status == "FAILED"


def test_invalid_parameters_create_no_run(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    project = str(_project(tmp_path))
    for args, message in [
        (["-P", "alpha=0.1", "-P", "epochs=abc"], "parameter 'epochs' must be an int, not 'abc'"),
        ([], "parameter 'alpha' is required (float)"),
        (["-e", "nope", "-P", "alpha=1"], "entry point 'nope' is not in project"),
        (["-P", "alpha"], "-P 'alpha': expected KEY=VALUE"),
        (["-P", "alpha=1", "-P", "alpha=2"], "-P alpha is given twice"),
        (["-P", "alpha=1", "--experiment-id", "424242"], "424242"),
    ]:
        done = trackway_run(project, *args)
        assert done.code != 0, args
        lines = done.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trackway: error: "), done.err
        assert message in lines[0]
    assert all_runs(api) == []
    missing = trackway_run(str(tmp_path / "nowhere"))
    assert missing.code == 1 and "no such directory" in missing.err


def test_json_keeps_stdout_for_the_summary(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    done = trackway_run(str(_project(tmp_path)), "-P", "alpha=1", "--json", "--run-name", "r1")
    assert done.code == 0, done.err
    summary = json.loads(done.out)
    run = only_run(api)
    assert summary["run_id"] == run.info.run_id and summary["status"] == "FINISHED"
    assert summary["exit_code"] == 0
    assert run.info.run_name == "r1"
    assert "attached to" in done.err  # the command's stdout went to stderr


def test_scripts_run_without_an_mlproject(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "plain",
        {"train.py": LOGGING_SCRIPT, "prep.sh": 'echo "prep got: $*"\nexit 4\n'},
    )
    done = trackway_run(str(project), "-e", "train.py", "-P", "lr=0.1")
    assert done.code == 0, done.err
    run = only_run(api)
    assert run.data.params == {"lr": "0.1", "seen_argv": "--lr 0.1"}
    failed = trackway_run(str(project), "-e", "prep.sh", "-P", "x=$(id)")
    assert failed.code == 4
    assert "prep got: --x $(id)" in failed.out


def _as_in_a_terminal() -> None:
    """Ctrl-C reaches a command started from a terminal. A command started in the
    background of a non-interactive shell (as CI may start the tests) inherits SIGINT
    ignored, and `trackway run` rightly leaves an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_kills_the_process_group_and_ends_killed(
    uri: str, api: TrackwayClient, tmp_path: Path, clean_env: None
) -> None:
    project = _project(tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "trackway.cli", "run", str(project), "-e", "sleep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(uri),
        text=True,
        preexec_fn=_as_in_a_terminal,
    )
    try:
        assert launcher.stdout is not None
        assert launcher.stdout.readline().strip() == "ready"
        pids = [int(p) for p in (project / "pids").read_text().split()]
        launcher.send_signal(signal.SIGINT)  # as Ctrl-C would, to the launcher alone
        _, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 130, err
    assert only_run(api).info.status == "KILLED"
    assert "ended KILLED" in err
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def test_sigterm_is_forwarded_too(
    uri: str, api: TrackwayClient, tmp_path: Path, clean_env: None
) -> None:
    project = _project(tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "trackway.cli", "run", str(project), "-e", "sleep", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(uri),
        text=True,
    )
    try:
        assert launcher.stderr is not None
        while "ready" not in launcher.stderr.readline():
            pass
        launcher.send_signal(signal.SIGTERM)
        out, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGTERM
    assert json.loads(out)["status"] == "KILLED"
    assert only_run(api).info.status == "KILLED"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
