"""One run through three languages: Java writes it, R reads it back, Python checks it.

The Java client's CrossLanguageWriter logs three params and 10,000 points of `loss`
(step i: value 1 / (i + 1), timestamp 1700000000000 + i) over gRPC through its
MetricLogger; the R package, installed into a scratch library, reads the params and the
metric history over the HTTP/JSON API into data.frames and writes them as CSV; this test
compares every value with what the writer was told to log, and with what the Python
client reads from the same server.

Needs Maven, a JDK and R (scripts/install-java.sh, scripts/install-r.sh). Without them
the test skips, except under CI=true, where a missing toolchain is a failure.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import ServerProcess
from tests.support.required import unavailable
from trackway.client import TrackwayClient

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "clients" / "java"
R_PACKAGE = ROOT / "clients" / "r"
POINTS = 10_000
PARAMS = {"alpha": "0.5", "layers": "3", "optimizer": "adam"}
BASE_TS = 1_700_000_000_000

pytestmark = pytest.mark.timeout(1500)


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    unavailable(f"{', '.join(missing)} not installed: run `make toolchains`")


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def _java_classpath() -> str:
    _run(["mvn", "-q", "-B", "compile"], JAVA)
    out = JAVA / "target" / "cross-classpath.txt"
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "dependency:build-classpath",
            f"-Dmdep.outputFile={out}",
            "-DincludeScope=runtime",
        ],
        JAVA,
    )
    return f"{JAVA / 'target' / 'classes'}:{out.read_text().strip()}"


@pytest.fixture
def server(tmp_path: Path) -> ServerProcess:
    proc = ServerProcess(
        f"sqlite:///{tmp_path / 'cross.db'}",
        (tmp_path / "artifacts").as_uri(),
        tmp_path / "server.log",
    )
    yield proc
    proc.close()


def test_java_writes_r_reads_python_checks(server: ServerProcess, tmp_path: Path) -> None:
    _need("mvn", "java", "R", "Rscript")
    classpath = _java_classpath()
    written = _run(
        [
            "java",
            "-cp",
            classpath,
            "dev.trackway.client.tools.CrossLanguageWriter",
            "--target",
            server.target,
            "--experiment",
            "cross-language",
            "--points",
            str(POINTS),
        ],
        ROOT,
    )
    run_id = written.strip()
    assert len(run_id) == 32, written

    library = tmp_path / "rlib"
    library.mkdir()
    _run(["R", "CMD", "INSTALL", f"--library={library}", str(R_PACKAGE)], tmp_path)
    out_csv = tmp_path / "run.csv"
    env = {
        **os.environ,
        "R_LIBS": str(library),
        "TRACKWAY_TRACKING_URI": server.http_url,
    }
    _run(
        ["Rscript", str(R_PACKAGE / "inst" / "scripts" / "read_run.R"), run_id, str(out_csv)],
        tmp_path,
        env,
    )

    with out_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    params = {r["key"]: r["value"] for r in rows if r["kind"] == "param"}
    points = [r for r in rows if r["kind"] == "metric"]
    assert params == PARAMS
    assert len(points) == POINTS
    by_step = {int(r["step"]): r for r in points}
    assert sorted(by_step) == list(range(POINTS)), "every step exactly once"
    for step, row in by_step.items():
        assert row["key"] == "loss"
        assert float(row["value"]) == 1.0 / (step + 1), f"value at step {step}"
        assert int(float(row["timestamp"])) == BASE_TS + step, f"timestamp at step {step}"

    with TrackwayClient(server.target) as client:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params == PARAMS
        history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (int(r["step"]), float(r["value"]), int(float(r["timestamp"])))
        for r in sorted(points, key=lambda r: int(r["step"]))
    ]
