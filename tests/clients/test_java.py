"""The Java client in clients/java, built and tested the way Maven projects are.

`mvn verify` generates the Java messages and gRPC stubs from proto/, compiles the client and
runs its JUnit suite, which starts real `trackway server` processes (the `trackway` of this
interpreter's virtualenv, passed as TRACKWAY_BIN). This test checks that the build passes and
that the suite really ran: at least MIN_TESTS tests, none skipped.

Maven and a JDK come from Debian's packages (scripts/install-java.sh). Without `mvn` this
test skips, except under CI=true, where a missing Maven is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.required import unavailable

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "clients" / "java"
REPORTS = PROJECT / "target" / "surefire-reports"
# The suite has 89 tests (each client test class also runs over http://); fewer means a
# test class was not picked up.
MIN_TESTS = 89
# The first build downloads protoc, the gRPC code generator and the dependencies from
# Maven Central; later builds take about a minute on 2 cores.
MAVEN_TIMEOUT = 1500


@dataclass
class SuiteTotals:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    suites: int = 0


def _mvn_or_skip() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        unavailable("mvn not installed: run scripts/install-java.sh")
    return mvn


def _surefire_totals(reports: Path) -> SuiteTotals:
    """Adds up the <testsuite> counts of Surefire's XML reports."""
    totals = SuiteTotals()
    for report in sorted(reports.glob("TEST-*.xml")):
        suite = ET.parse(report).getroot()
        totals.suites += 1
        for name in ("tests", "failures", "errors", "skipped"):
            setattr(totals, name, getattr(totals, name) + int(suite.get(name, "0")))
    return totals


@pytest.mark.slow
@pytest.mark.timeout(MAVEN_TIMEOUT + 120)
def test_maven_verify_passes() -> None:
    mvn = _mvn_or_skip()
    trackway = Path(sys.executable).parent / "trackway"
    assert trackway.exists(), f"{trackway} is missing: install the project into its venv"
    if REPORTS.exists():
        # Reports of an earlier build must not count for this one.
        shutil.rmtree(REPORTS)
    env = {**os.environ, "TRACKWAY_BIN": str(trackway)}
    done = subprocess.run(
        [mvn, "-q", "-B", "verify"],
        cwd=PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=MAVEN_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        print(done.stdout)
    assert done.returncode == 0, f"mvn verify failed (exit {done.returncode}); output above"

    totals = _surefire_totals(REPORTS)
    print(
        f"JUnit: {totals.tests} tests in {totals.suites} classes, {totals.failures} failed, "
        f"{totals.errors} errors, {totals.skipped} skipped"
    )
    assert totals.tests >= MIN_TESTS, f"only {totals.tests} tests ran; expected {MIN_TESTS}+"
    assert totals.failures == 0 and totals.errors == 0
    assert totals.skipped == 0, f"{totals.skipped} JUnit tests were skipped"
