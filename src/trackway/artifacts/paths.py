"""Artifact path safety: every path from outside passes `clean` before it reaches a store.

MLflow's artifact CVEs came from paths that escaped the root after some layer decoded
or normalised them: `..` segments, absolute paths, backslashes on Windows, NUL bytes,
percent-encoded or double-encoded traversal, and `;`, `#` or `?` that a URL layer
splits on. A path is refused if it, or any percent-decoding of it, has such a shape;
nothing is ever "fixed up", because a fixed-up path is not what the client meant.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from trackway.errors import invalid

MAX_PATH_LENGTH = 1024
_FORBIDDEN_CHARS = {"\\": "backslashes", ";": "';'", "#": "'#'", "?": "'?'"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _problem(path: str) -> str | None:
    if _CONTROL.search(path):
        return "must not contain NUL or control characters"
    for char, name in _FORBIDDEN_CHARS.items():
        if char in path:
            return f"must not contain {name}"
    if path.startswith("/") or _DRIVE.match(path):
        return "must be relative to the artifact root, not absolute"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "must not contain empty, '.' or '..' segments"
    return None


def clean(field: str, path: str, *, allow_root: bool = False) -> str:
    """Returns `path` unchanged if it is safe, else raises InvalidArgument naming why.

    With `allow_root`, the empty path (the root folder itself) is accepted.
    """
    if path == "" and allow_root:
        return path
    if not path:
        raise invalid(field, "is required")
    if len(path) > MAX_PATH_LENGTH:
        raise invalid(field, f"is {len(path)} characters; at most {MAX_PATH_LENGTH}")
    seen = path
    for _ in range(4):
        problem = _problem(seen)
        if problem is not None:
            encoded = " once percent-decoded" if seen != path else ""
            raise invalid(field, f"{path[:200]!r} {problem}{encoded}")
        decoded = unquote(seen)
        if decoded == seen:
            return path
        seen = decoded
    raise invalid(field, f"{path[:200]!r} is percent-encoded too many times")


def join(prefix: str, path: str) -> str:
    """A repository path: the scope's prefix and a cleaned relative path."""
    if not prefix:
        return path
    return f"{prefix}/{path}" if path else prefix
