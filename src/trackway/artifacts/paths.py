"""Artifact path safety: every path from outside passes `clean` before it reaches a store.

MLflow's artifact CVEs came from paths that escaped the root after some layer decoded
or normalised them: `..` segments, absolute paths, backslashes on Windows, NUL bytes,
percent-encoded or double-encoded traversal, and `;`, `#` or `?` that a URL layer
splits on. A path is refused if it, or any percent-decoding of it, has such a shape;
nothing is ever "fixed up", because a fixed-up path is not what the client meant.
Two bypasses of decode-then-check filters are closed too: a percent-encoding of bytes
that are not UTF-8 (the overlong `%c0%af` for `/`), and Unicode lookalikes that NFKC
normalisation turns into traversal (fullwidth dots into `..`, U+FF0F into `/`). A path
is at most 1,024 characters and 1,024 bytes in UTF-8, a segment at most 255 bytes (the
name limit of local filesystems).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from trackway.errors import invalid

MAX_PATH_LENGTH = 1024
MAX_SEGMENT_BYTES = 255
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
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            return f"has a segment over {MAX_SEGMENT_BYTES} bytes"
    return None


def _lookalike(path: str) -> str | None:
    """A traversal that only appears once the path is NFKC-normalised, as some
    filesystems, object stores and clients do. Only traversal shapes count here: a
    fullwidth question mark in a name is a name, not a query."""
    folded = unicodedata.normalize("NFKC", path)
    if folded == path:
        return None
    shapes = "\\" in folded or folded.startswith("/") or _DRIVE.match(folded)
    if shapes or any(s in ("", ".", "..") for s in folded.split("/")):
        return "must not contain characters that Unicode normalisation turns into traversal"
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
    # In bytes too: object keys are limited in bytes, and on local disk a long path of
    # multi-byte characters would pass PATH_MAX once the root is prefixed.
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_LENGTH:
        raise invalid(field, f"is {size} bytes in UTF-8; at most {MAX_PATH_LENGTH}")
    seen = path
    for _ in range(4):
        problem = _problem(seen) or _lookalike(seen)
        if problem is not None:
            encoded = " once percent-decoded" if seen != path else ""
            raise invalid(field, f"{path[:200]!r} {problem}{encoded}")
        try:
            decoded = unquote(seen, errors="strict")
        except UnicodeDecodeError:
            raise invalid(
                field,
                f"{path[:200]!r} percent-encodes bytes that are not UTF-8 (such as the "
                "overlong %c0%af for '/')",
            ) from None
        if decoded == seen:
            return path
        seen = decoded
    raise invalid(field, f"{path[:200]!r} is percent-encoded too many times")


def join(prefix: str, path: str) -> str:
    """A repository path: the scope's prefix and a cleaned relative path."""
    if not prefix:
        return path
    return f"{prefix}/{path}" if path else prefix
