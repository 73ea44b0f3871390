"""Fixtures for the Web UI's end-to-end tests: a real `trackway server` subprocess, and
Debian's headless Chromium driven by playwright (never a downloaded browser).

The browser is `/usr/bin/chromium` (`scripts/install-browser.sh` installs it), or
TRACKWAY_CHROMIUM. Without it, or without the playwright package, the tests skip, except
under CI=true, where a missing browser is a failure. Screenshots go to the test's
tmp_path and are copied to `test-output/ui/` in the repository (gitignored), so a person
can look at what the tests saw.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import ServerProcess
from tests.support.required import unavailable
from tests.ui.seed import Demo, seed_demo

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails under CI=true
    expect = None

for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))

CHROMIUM = os.environ.get("TRACKWAY_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-output" / "ui"
# The launch flags known to work in this sandbox and in CI; playwright adds --headless.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
VIEWPORT = {"width": 1400, "height": 900}


def _missing(reason: str) -> None:
    unavailable(f"{reason} (scripts/install-browser.sh)")


@dataclass
class UiServer:
    proc: ServerProcess
    url: str  # http://127.0.0.1:<http port>

    @property
    def grpc_target(self) -> str:
        return self.proc.target


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    root = tmp_path_factory.mktemp("ui-server")
    proc = ServerProcess(
        f"sqlite:///{root / 'trackway.db'}", (root / "artifacts").as_uri(), root / "server.log"
    )
    try:
        yield UiServer(proc, proc.http_url)
    finally:
        proc.close()


@pytest.fixture(scope="session")
def demo(ui_server: UiServer) -> Demo:
    return seed_demo(ui_server.url, "demo")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Ui:
    """A page of the UI, plus the checks every test wants: no script errors, screenshots."""

    def __init__(self, page: Any, base: str, shots: Path, name: str) -> None:
        self.page = page
        self.base = base
        self.shots = shots
        self.name = name
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        # Chromium logs every 4xx answer as an error; a bad filter's 400 is expected.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    def open(self, route: str) -> None:
        self.page.goto(f"{self.base}/#{route}")

    def go(self, route: str) -> None:
        """Changes the route in the loaded app (no reload, as a click on a link does)."""
        self.page.evaluate("(r) => { location.hash = r; }", route)

    def shot(self, label: str) -> Path:
        path = self.shots / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
        return path

    def timings(self) -> dict[str, float]:
        return dict(self.page.evaluate("() => window.trackway.timings"))


def _test_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]


@pytest.fixture
def ui(
    browser: Any, ui_server: UiServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Ui]:
    theme = getattr(request, "param", "light")
    context = browser.new_context(viewport=VIEWPORT, color_scheme=theme, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    wrapped = Ui(page, ui_server.url, shots, _test_name(request))
    try:
        yield wrapped
    finally:
        context.close()
    assert wrapped.errors == [], f"the page logged errors: {wrapped.errors}"
