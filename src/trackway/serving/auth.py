"""`trackway models serve --auth token`: bearer tokens on the scoring server.

The scoring server checks tokens against a file of its own (`--token-file`) rather
than asking the tracking server: it loaded its model once and must keep answering
when the tracking server is down or far away, and a prediction must not wait on a
network round trip. Mint tokens as usual (`trackway tokens create`) and list them in
the file, one per line, either as the secret itself or as `sha256:<hex digest>` of it
(so the file need not hold secrets); blank lines and `#` comments are ignored. The
file is read again when it changes (checked at most once a second), so removing a
line revokes a token without a restart.

Rules, one per route of the app (`trackway.serving.app.ROUTES`): the probes (`/ping`,
`/health`) and `/version` are public, `/invocations` needs a token, and anything else
needs one too. Refusals are 401 with the scoring server's error body,
`{"error_code": "UNAUTHENTICATED", "message": ...}`.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from trackway.auth import tokens
from trackway.serving.app import INVOCATIONS, PROBES

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

PUBLIC, TOKEN = "public", "token"
RULES: dict[str, str] = {**dict.fromkeys(PROBES, PUBLIC), INVOCATIONS: TOKEN}
_RECHECK_SECONDS = 1.0
_HASHED = "sha256:"


def rule_for(path: str) -> str:
    """The rule of a path; paths the app does not serve need a token too."""
    return RULES.get(path, TOKEN)


class TokenFile:
    """The accepted tokens' SHA-256 digests, from a file, kept current."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._digests: frozenset[str] = frozenset()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._load()  # a missing or unreadable file stops the server at start

    def _load(self) -> None:
        info = os.stat(self._path)
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return
        digests = set()
        for number, raw in enumerate(self._path.read_text().splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith(_HASHED):
                digest = line[len(_HASHED) :].lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise ValueError(f"{self._path}:{number}: not a sha256:<64 hex digits> line")
                digests.add(digest)
            else:
                digests.add(tokens.hash_secret(line))
        self._digests = frozenset(digests)
        self._stamp = stamp

    def accepts(self, secret: str) -> bool:
        now = time.monotonic()
        if now - self._checked >= _RECHECK_SECONDS:
            with self._lock:
                self._checked = now
                try:
                    self._load()
                except (OSError, ValueError):
                    # Fail closed: a file that disappeared or broke accepts nothing.
                    self._digests = frozenset()
                    self._stamp = None
        digest = tokens.hash_secret(secret)
        return any(hmac.compare_digest(digest, known) for known in self._digests)


class ScoringGate:
    """The scoring server's one enforcement point, around the whole app."""

    def __init__(self, app: App, accepted: TokenFile) -> None:
        self._app = app
        self._accepted = accepted

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or rule_for(scope["path"]) == PUBLIC:
            await self._app(scope, receive, send)
            return
        value = ""
        for key, raw in scope.get("headers", ()):
            if key.lower() == b"authorization":
                value = raw.decode("latin-1")
                break
        secret = tokens.bearer(value) if value else None
        if secret is not None and self._accepted.accepts(secret):
            await self._app(scope, receive, send)
            return
        message = (
            "the token is not valid here"
            if secret is not None
            else "this scoring server requires `Authorization: Bearer <token>`"
        )
        body = orjson.dumps({"error_code": "UNAUTHENTICATED", "message": message})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="trackway-scoring"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
