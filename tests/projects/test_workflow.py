"""Multi-step workflows (a step calls `trackway.projects.run` and gets a child run) and the
Python API: synchronous and background runs, failures, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

import trackway
import trackway.projects
from tests.projects.conftest import Launcher, all_runs, write_project
from trackway.client import TrackwayClient
from trackway.errors import InvalidArgument

FILES = {
    "MLproject": """
    entry_points:
      main: "python driver.py"
      failing: "python driver.py broken"
      step:
        parameters: {n: int, out: path}
        command: "python step.py {n} {out}"
      broken: "python -c 'raise SystemExit(5)'"
      sleep: "python -c 'import time; time.sleep(300)'"
    """,
    "driver.py": """
    import sys
    import trackway
    import trackway.projects

    with trackway.start_run():  # attaches to this step's own project run
        if sys.argv[1:] == ["broken"]:
            trackway.projects.run(".", "broken")  # raises: the workflow fails
        first = trackway.projects.run(".", "step", {"n": 1, "out": "one.txt"})
        second = trackway.projects.run(".", "step", {"n": 2, "out": "two.txt"})
        trackway.log_param("steps", f"{first.run_id},{second.run_id}")
    """,
    "step.py": """
    import sys
    import trackway

    n, out = int(sys.argv[1]), sys.argv[2]
    with trackway.start_run():
        trackway.log_metric("n", n)
    with open(out, "w") as f:
        f.write(str(n))
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "flow", FILES)


def test_two_step_workflow_makes_child_runs(
    trackway_run: Launcher, api: TrackwayClient, project: Path
) -> None:
    done = trackway_run(str(project), "--experiment-name", "flow")
    assert done.code == 0, done.err
    runs = {r.info.run_id: r for r in all_runs(api)}
    assert len(runs) == 3
    (parent,) = [r for r in runs.values() if r.data.tags["mlflow.project.entryPoint"] == "main"]
    children = parent.data.params["steps"].split(",")
    for n, child_id in enumerate(children, start=1):
        child = runs[child_id]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.parent_run_id == parent.info.run_id
        assert child.info.experiment_id == parent.info.experiment_id
        assert child.info.status == "FINISHED"
        assert child.data.metrics == {"n": float(n)}
        assert child.data.params == {
            "n": str(n),
            "out": str(project / ("one.txt", "two.txt")[n - 1]),
        }
    assert parent.info.status == "FINISHED"
    assert (project / "two.txt").read_text() == "2"


def test_a_failing_step_fails_the_workflow(
    trackway_run: Launcher, api: TrackwayClient, project: Path
) -> None:
    done = trackway_run(str(project), "-e", "failing")
    assert done.code == 1
    statuses = {r.data.tags["mlflow.project.entryPoint"]: r.info.status for r in all_runs(api)}
    assert statuses == {"failing": "FAILED", "broken": "FAILED"}
    assert "ended FAILED: the command exited with code 5" in done.err


def test_python_api(uri: str, api: TrackwayClient, project: Path, clean_env: None) -> None:
    finished = trackway.projects.run(
        str(project), "step", {"n": 3, "out": str(project / "api.txt")}, tracking_uri=uri
    )
    assert finished.get_status() == "FINISHED" and finished.exit_code == 0
    assert api.get_run(finished.run_id).data.metrics == {"n": 3.0}
    with pytest.raises(trackway.projects.ExecutionError) as err:
        trackway.projects.run(str(project), "broken", tracking_uri=uri)
    assert err.value.status == "FAILED"
    assert api.get_run(err.value.run_id).info.status == "FAILED"
    with pytest.raises(InvalidArgument, match="must be an int"):
        trackway.projects.run(str(project), "step", {"n": "x", "out": "o"}, tracking_uri=uri)


def test_background_runs_wait_and_cancel(
    uri: str, api: TrackwayClient, project: Path, clean_env: None
) -> None:
    sleeping = trackway.projects.run(str(project), "sleep", tracking_uri=uri, synchronous=False)
    quick = trackway.projects.run(
        str(project), "step", {"n": 4, "out": "q.txt"}, tracking_uri=uri, synchronous=False
    )
    assert sleeping.get_status() == "RUNNING"
    assert quick.wait() is True and quick.get_status() == "FINISHED"
    sleeping.cancel()
    assert sleeping.get_status() == "KILLED"
    assert sleeping.wait() is False
    assert api.get_run(sleeping.run_id).info.status == "KILLED"


def test_a_fluent_run_in_this_process_is_the_parent(
    uri: str, api: TrackwayClient, project: Path, clean_env: None
) -> None:
    trackway.set_tracking_uri(uri)
    trackway.set_experiment("api-parent")
    with trackway.start_run() as parent:
        child = trackway.projects.run(str(project), "step", {"n": 5, "out": "p.txt"})
    got = api.get_run(child.run_id)
    # A relative path given by the caller is the caller's, not the project's.
    assert (project.parent / "p.txt").read_text() == "5"
    assert got.info.parent_run_id == parent.run_id
    assert got.info.experiment_id == parent.info.experiment_id
