"""The UI's files over HTTP: served at `/` and below `/ui/`, cached by ETag, compressed,
with a strict Content-Security-Policy, and never in the way of the APIs."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import requests

from tests.ui.conftest import UiServer
from trackway.ui.assets import STATIC_DIR, UiAssets, load_assets


def test_every_static_file_is_served(ui_server: UiServer) -> None:
    assets = load_assets()
    assert "/" in assets and "/ui/js/main.js" in assets and "/ui/app.css" in assets
    for path in sorted(assets):
        reply = requests.get(ui_server.url + path, timeout=10)
        assert reply.status_code == 200, path
        assert reply.headers["x-content-type-options"] == "nosniff"
    page = requests.get(ui_server.url + "/", timeout=10)
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/ui/js/main.js">' in page.text
    script = requests.get(ui_server.url + "/ui/js/main.js", timeout=10)
    assert script.headers["content-type"].startswith("text/javascript")


def test_every_module_import_resolves() -> None:
    # A missing module would only show as a blank page in a browser; check it here too.
    for path in STATIC_DIR.rglob("*.js"):
        for target in re.findall(r'^import .*? from "(\.[^"]+)";', path.read_text(), re.M):
            assert (path.parent / target).resolve().is_file(), f"{path}: {target}"


def test_etag_revalidation_and_gzip(ui_server: UiServer) -> None:
    url = ui_server.url + "/ui/app.css"
    first = requests.get(url, headers={"accept-encoding": "gzip"}, timeout=10)
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["content-encoding"] == "gzip"
    assert first.text == (STATIC_DIR / "app.css").read_text()
    again = requests.get(url, headers={"if-none-match": first.headers["etag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    raw = requests.get(url, headers={"accept-encoding": "identity"}, stream=True, timeout=10)
    assert "content-encoding" not in raw.headers
    assert raw.raw.read() == (STATIC_DIR / "app.css").read_bytes()
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    css = load_assets()["/ui/app.css"]
    assert css.gzipped is not None and gzip.decompress(css.gzipped) == css.body


def test_the_ui_never_shadows_the_apis(ui_server: UiServer) -> None:
    assert requests.get(ui_server.url + "/health", timeout=10).text == "OK"
    assert requests.get(ui_server.url + "/version", timeout=10).status_code == 200
    api = requests.get(ui_server.url + "/api/2.0/mlflow/experiments/search", timeout=10)
    assert api.status_code == 200 and "experiments" in api.json()
    missing = requests.get(ui_server.url + "/api/2.0/mlflow/nope", timeout=10)
    assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert requests.get(ui_server.url + "/ui/nope.js", timeout=10).status_code == 404
    # Only GET and HEAD reach the UI; a POST to / is the API's business (not found).
    assert requests.post(ui_server.url + "/", timeout=10).status_code == 404
    for path in ("/api/x", "/ajax-api/x", "/v1/x", "/health", "/version", "/metrics"):
        assert not UiAssets.serves("GET", path), path


def test_assets_from_another_folder(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;\n" * 200)
    (tmp_path / ".hidden").write_text("no")
    found = load_assets(tmp_path)
    assert set(found) == {"/", "/index.html", "/ui/js/a.js"}
    assert found["/ui/js/a.js"].gzipped is not None  # large enough to compress
    assert found["/"].gzipped is None
    assert found["/"].etag == found["/index.html"].etag
