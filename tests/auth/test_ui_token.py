"""The Web UI against a server with `--auth token`: the token box, and the token on every
request the UI makes (the API's, and the artifact previews its views fetch)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.conftest import Secured
from tests.support.required import unavailable
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as art_pb
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb

CHROMIUM = os.environ.get("TRACKWAY_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--no-proxy-server"]
# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082"
)


def _missing(reason: str) -> None:
    unavailable(reason)


@pytest.fixture
def page() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()


def test_the_token_box_signs_the_ui_in(secured: Secured, page: Any) -> None:
    from playwright.sync_api import expect

    root = secured.stubs(secured.tokens["root"])
    eid = root.tracking.CreateExperiment(pb.CreateExperimentRequest(name="behind-a-token"))
    run = root.tracking.CreateRun(pb.CreateRunRequest(experiment_id=eid.experiment.experiment_id))
    run_id = run.run.info.run_id
    header = art_pb.UploadHeader(scope=artifact_pb2.ArtifactScope(run_id=run_id), path="notes.txt")
    root.artifacts.Upload(
        iter(
            [
                art_pb.UploadRequest(header=header),
                art_pb.UploadRequest(chunk=b"token works"),
                art_pb.UploadRequest(end=art_pb.UploadEnd()),
            ]
        )
    )
    image = art_pb.UploadHeader(scope=artifact_pb2.ArtifactScope(run_id=run_id), path="dot.png")
    root.artifacts.Upload(
        iter(
            [
                art_pb.UploadRequest(header=image),
                art_pb.UploadRequest(chunk=PNG),
                art_pb.UploadRequest(end=art_pb.UploadEnd()),
            ]
        )
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{secured.http_url}/#/experiments")
    box = page.locator("#token-input")
    expect(box).to_be_visible()  # the 401 opened it
    expect(page.locator("form.token-box")).to_contain_text("requires authentication")
    box.fill(secured.tokens["root"])
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_text("behind-a-token")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('trackway.token')") == secured.tokens["root"]

    # A view's own fetch (the artifact preview) carries the token too.
    page.goto(f"{secured.http_url}/#/runs/{run_id}?tab=artifacts&path=notes.txt")
    expect(page.locator("#artifact-preview pre")).to_contain_text("token works")
    # An image preview cannot send a header from <img>: it is fetched, then shown.
    page.goto(f"{secured.http_url}/#/runs/{run_id}?tab=artifacts&path=dot.png")
    loaded = """() => {
        const img = document.querySelector("#artifact-preview img");
        return img !== null && img.complete && img.naturalWidth === 1;
    }"""
    page.wait_for_function(loaded)

    page.locator("#token-toggle").click()
    page.get_by_role("button", name="Forget token").click()
    expect(page.locator("#token-input")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('trackway.token')") is None
    assert errors == []
