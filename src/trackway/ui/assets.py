"""The Web UI's static files, served by the HTTP gateway at `/` and below `/ui/`.

The page is `index.html` at `/`; its modules, styles and icon live below `/ui/`, a prefix
that no API uses, so the UI can never shadow `/api`, `/ajax-api`, `/v1`, `/health`,
`/version` or `/metrics`. Every view is a hash route (`/#/runs/<id>`), so deep links
need no server-side routing.

The files are few and small: they are read once, when the gateway is built, together
with a gzip copy and a content hash. Answers carry `Cache-Control: no-cache` and that
hash as the ETag, so a browser revalidates each file and gets a 304 when nothing
changed, and a new release is picked up on the next load. The page's
Content-Security-Policy allows scripts, styles and fetches from this origin only, so
even a rendering bug cannot run script that came in with user data.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

STATIC_DIR = Path(__file__).parent / "static"
ASSET_PREFIX = "/ui/"
_PAGE_PATHS = ("/", "/index.html")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# Smaller files gain nothing from compression.
_GZIP_MIN_BYTES = 1024
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: bytes


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    content_type = _TYPES.get(path.suffix) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    # mtime=0 keeps the gzip bytes, like the ETag, a function of the content alone.
    gzipped = gzip.compress(body, 6, mtime=0) if len(body) >= _GZIP_MIN_BYTES else None
    etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
    return Asset(body, gzipped, content_type, etag)


def load_assets(root: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file below `root`, keyed by its URL path (`/` for index.html)."""
    found: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            found[ASSET_PREFIX + path.relative_to(root).as_posix()] = _load(path)
    index = found.pop(ASSET_PREFIX + "index.html", None)
    if index is not None:
        for page in _PAGE_PATHS:
            found[page] = index
    return found


def _header(scope: dict[str, Any], name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return b""


class UiAssets:
    """The ASGI handler of the UI's files."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self._assets = load_assets(root)

    @staticmethod
    def serves(method: str, path: str) -> bool:
        """Whether a request is the UI's (a GET or HEAD of the page or of `/ui/...`)."""
        return method in ("GET", "HEAD") and (path in _PAGE_PATHS or path.startswith(ASSET_PREFIX))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        asset = self._assets.get(scope["path"])
        if asset is None:
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")]
            await _send(send, 404, headers, b"not found")
            return
        headers = [
            (b"content-type", asset.content_type.encode()),
            (b"cache-control", b"no-cache"),
            (b"etag", asset.etag),
            (b"x-content-type-options", b"nosniff"),
            (b"vary", b"accept-encoding"),
        ]
        if asset.content_type.startswith("text/html"):
            headers += [
                (b"content-security-policy", _CSP.encode()),
                (b"referrer-policy", b"same-origin"),
            ]
        if asset.etag in _header(scope, b"if-none-match").split(b", "):
            await _send(send, 304, headers, b"")
            return
        body = asset.body
        if asset.gzipped is not None and b"gzip" in _header(scope, b"accept-encoding"):
            body = asset.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await _send(send, 200, headers, b"" if scope["method"] == "HEAD" else body)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
