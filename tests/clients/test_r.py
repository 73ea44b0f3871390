"""The R client in clients/r, checked the way R packages are: `R CMD build`, then
`R CMD check`, whose testthat suite talks to a real `trackway server` over its HTTP/JSON
port. Also the staleness check of the R code generated from the protos.

R comes from Debian's packages (scripts/install-r.sh). Without it these tests skip,
except under CI=true, where a missing R is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.procs import ServerProcess
from tests.support.required import unavailable

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "r"
GEN_R = ROOT / "tools" / "gen_r.py"
R_PACKAGES = ("httr2", "jsonlite", "testthat")
_TESTTHAT = re.compile(r"\[ FAIL (\d+) \| WARN (\d+) \| SKIP (\d+) \| PASS (\d+) \]")


def _r_or_skip() -> str:
    """The `R` binary, when R and the client's packages are installed."""
    r = shutil.which("R")
    missing = "" if r else "R"
    if r:
        probe = "; ".join(f"library({p})" for p in R_PACKAGES)
        loaded = subprocess.run(
            [r, "--vanilla", "--slave", "-e", probe], capture_output=True, text=True, timeout=120
        )
        if loaded.returncode != 0:
            missing = f"the R packages {', '.join(R_PACKAGES)} ({loaded.stderr.strip()})"
    if missing:
        unavailable(f"{missing} not installed: run scripts/install-r.sh")
    assert r is not None
    return r


@pytest.fixture
def http_uri(tmp_path: Path) -> Iterator[str]:
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'trackway.db'}",
        (tmp_path / "artifacts").as_uri(),
        tmp_path / "server.log",
    )
    try:
        yield server.http_url
    finally:
        server.close()


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output}"
    return output


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_r_cmd_check_passes_with_the_testthat_suite_against_a_live_server(
    http_uri: str, tmp_path: Path
) -> None:
    r = _r_or_skip()
    work = tmp_path / "check"
    work.mkdir()
    env = {**os.environ, "TRACKWAY_TRACKING_URI": http_uri}
    # The checked package must not pick up an installed copy's help or code.
    env.pop("R_LIBS", None)
    _run([r, "CMD", "build", str(PACKAGE)], work, env, timeout=300)
    tarballs = sorted(work.glob("trackway_*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    check = subprocess.run(
        [r, "CMD", "check", "--no-manual", tarballs[0].name],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    output = check.stdout + check.stderr
    rcheck = work / "trackway.Rcheck"
    logs = [rcheck / "tests" / name for name in ("testthat.Rout", "testthat.Rout.fail")]
    test_log = next((p.read_text(errors="replace") for p in logs if p.exists()), "")

    status = re.findall(r"^Status: (.+)$", output, flags=re.MULTILINE)
    assert status, f"R CMD check gave no status:\n{output}\n{test_log[-5000:]}"
    # OK, or NOTEs only (such as "unable to verify current time" offline).
    assert "ERROR" not in status[-1] and "WARNING" not in status[-1], (
        f"R CMD check: {status[-1]}\n{output}\n{test_log[-5000:]}"
    )
    assert check.returncode == 0, output

    summaries = _TESTTHAT.findall(test_log)
    assert summaries, f"no testthat summary in the test log:\n{test_log[-5000:]}"
    failed, _warned, skipped, passed = map(int, summaries[-1])
    assert failed == 0 and skipped == 0, test_log[-5000:]
    assert passed > 100, f"only {passed} expectations ran"


def test_generated_r_code_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(GEN_R), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _gen_r() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_r", GEN_R)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses resolve their annotations through sys.modules.
    sys.modules.setdefault("gen_r", module)
    spec.loader.exec_module(module)
    return module


def test_the_staleness_check_names_changed_missing_and_leftover_files(tmp_path: Path) -> None:
    gen_r = _gen_r()
    copy = tmp_path / "r"
    shutil.copytree(PACKAGE, copy)
    fresh = gen_r.outputs()
    assert gen_r.stale(copy, fresh) == []

    (copy / "R" / "rpc_generated.R").write_text("# edited by hand\n")
    page = next(p for p in sorted(fresh) if p.suffix == ".Rd")
    (copy / page).unlink()
    (copy / "man" / "tw_tracking_gone.Rd").write_text(gen_r.RD_HEADER + "\\name{gone}\n")
    (copy / "man" / "hand_written.Rd").write_text("\\name{hand}\n")
    problems = gen_r.stale(copy, fresh)
    assert problems == sorted(
        [
            f"differs: {copy / 'R' / 'rpc_generated.R'}",
            f"missing: {copy / page}",
            f"not generated any more: {copy / 'man' / 'tw_tracking_gone.Rd'}",
        ]
    )

    gen_r.write(copy, fresh)
    assert gen_r.stale(copy, fresh) == []
    assert not (copy / "man" / "tw_tracking_gone.Rd").exists()
    assert (copy / "man" / "hand_written.Rd").exists()
