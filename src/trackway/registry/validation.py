"""Checks on registry input, raising InvalidArgument that names the field and says what to fix.

Names are canonicalised before anything compares them (CVE-2024-3099, where
`my%2Dmodel` and `my-model` were two models): Unicode NFC first, then a strict charset
without `%`, `/`, `@` or `:`, so that a name can never be spelled two ways, and always
reads unambiguously inside `models:/<name>/<version>` and `models:/<name>@<alias>`.

Artifact locations (a version's source) must lie below the server's artifact root: MLflow's
local-file-inclusion CVEs (CVE-2023-1177 and its bypasses, CVE-2024-1483 and friends) all
stored a source elsewhere and read files through it later. Anything a URL layer might
decode, split or drop (`%`, `#`, `?`, `;`, backslashes, control characters) is refused
rather than interpreted, as are `.`, `..` and empty segments.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from trackway.errors import invalid
from trackway.registry import limits
from trackway.registry.entities import STAGES
from trackway.tracking import validation as check

# Letters, digits and `_` (Unicode-aware), then also `-`, `.` and inner spaces.
_NAME = re.compile(r"\w(?:[\w\-. ]*[\w\-.])?")
_ALIAS = re.compile(r"[\w\-]+")
_RESERVED_VERSION_ALIAS = re.compile(r"v\d+", re.IGNORECASE)
_UNSAFE_URI_CHARS = re.compile(r"[\x00-\x1f\x7f\\%#?;]")
_RUN_LINK = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
_STAGE_BY_LOWER = {stage.lower(): stage for stage in STAGES}
MAX_VERSION = 2**63 - 1


def model_name(field_path: str, value: str) -> str:
    """The canonical (NFC) form of a registered model name, after checking it."""
    if not value:
        raise invalid(field_path, "is required")
    if len(value) > limits.MAX_MODEL_NAME_LENGTH * 4:
        raise invalid(
            field_path, f"is {len(value)} characters; at most {limits.MAX_MODEL_NAME_LENGTH}"
        )
    name = unicodedata.normalize("NFC", value)
    if len(name) > limits.MAX_MODEL_NAME_LENGTH:
        raise invalid(
            field_path, f"is {len(name)} characters; at most {limits.MAX_MODEL_NAME_LENGTH}"
        )
    if not _NAME.fullmatch(name):
        raise invalid(
            field_path,
            f"{name[:100]!r} may only hold letters, digits, underscores, dashes, periods and "
            "inner spaces, and must start with a letter, digit or underscore",
        )
    return name


def alias(field_path: str, value: str) -> str:
    """An alias name as MLflow allows it; `latest` and `v<digits>` are reserved because
    `models:/<name>/latest` and version numbers already mean something."""
    if not value:
        raise invalid(field_path, "is required")
    if len(value) > limits.MAX_ALIAS_LENGTH:
        raise invalid(field_path, f"is {len(value)} characters; at most {limits.MAX_ALIAS_LENGTH}")
    name = unicodedata.normalize("NFC", value)
    if not _ALIAS.fullmatch(name):
        raise invalid(
            field_path, f"{name[:100]!r} may only hold letters, digits, underscores and dashes"
        )
    if name.lower() == "latest" or _RESERVED_VERSION_ALIAS.fullmatch(name):
        raise invalid(
            field_path,
            f"{name!r} is reserved: 'latest' and 'v<number>' already name versions",
        )
    return name


def version(field_path: str, value: int) -> int:
    if value <= 0:
        raise invalid(field_path, f"{value} is not a version number; versions start at 1")
    if value > MAX_VERSION:
        raise invalid(field_path, f"{value} is out of range")
    return value


def stage(field_path: str, value: str) -> str:
    """The canonical spelling of a stage, matched case-insensitively as MLflow does."""
    found = _STAGE_BY_LOWER.get(value.lower())
    if found is None:
        raise invalid(field_path, f"{value[:50]!r} is not one of {', '.join(STAGES)}")
    return found


def description(field_path: str, value: str) -> None:
    check.text(field_path, value, limits.MAX_DESCRIPTION_LENGTH)


def tag(field_path: str, key: str, value: str) -> None:
    check.tag(field_path, key, value, limits.MAX_TAG_VALUE_LENGTH)


def tags(field_path: str, items: Sequence[tuple[str, str]]) -> None:
    check.tags(field_path, items, limits.MAX_INITIAL_TAGS, limits.MAX_TAG_VALUE_LENGTH)


def run_link(field_path: str, value: str) -> None:
    """Empty, or an http(s) URL: a UI renders it as a link, so `javascript:` and other
    schemes are refused."""
    if not value:
        return
    check.text(field_path, value, limits.MAX_RUN_LINK_LENGTH)
    if not _RUN_LINK.fullmatch(value):
        raise invalid(field_path, "must be an http:// or https:// URL without spaces")


def uri_text(field_path: str, value: str, max_length: int) -> None:
    """Refuses the characters that a URL layer decodes, splits on or drops."""
    check.text(field_path, value, max_length, required=True)
    bad = _UNSAFE_URI_CHARS.search(value)
    if bad is not None:
        shown = repr(bad.group())
        raise invalid(
            field_path,
            f"must not contain {shown} (percent-encoding, '#', '?', ';', backslashes and "
            "control characters are refused, never decoded)",
        )


def inside_root(field_path: str, uri: str, root: str) -> None:
    """An artifact location must be a folder or file strictly below the artifact root
    (the same rule as experiments' `trackway.tracking.validation.inside_root`)."""
    uri_text(field_path, uri, limits.MAX_URI_LENGTH)
    below = uri.rstrip("/")[len(root) + 1 :] if uri.startswith(root + "/") else ""
    # Also as NFKC folds it: fullwidth dots (U+FF0E) must not become `..` in another layer.
    segments = below.split("/") + unicodedata.normalize("NFKC", below).split("/")
    if not below or any(s in ("", ".", "..") or "\\" in s for s in segments):
        raise invalid(
            field_path,
            f"{uri[:200]!r} must lie below the server's artifact root {root!r} (or be a "
            "runs:/ or models:/ URI that does)",
        )
