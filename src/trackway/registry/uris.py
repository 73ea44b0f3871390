"""`models:/` and `runs:/` URIs: pure parsing, and resolution to an artifact location.

Forms (the scheme is case-insensitive; nothing is ever percent-decoded):

- `models:/<name>/<version>`   one version, e.g. `models:/churn/3`
- `models:/<name>@<alias>`     the version an alias points to
- `models:/<name>/<stage>`     the newest READY version in a stage (None, Staging,
                               Production or Archived, case-insensitive)
- `models:/<name>/latest`      the newest READY version in any stage
- `runs:/<run_id>[/<path>]`    a path below a run's artifact root

`models://...` and `runs://...` (an authority part, which MLflow uses for remote
registries) are refused, as are `%`, `#`, `?`, `;`, backslashes, control characters,
and `.`, `..` or empty segments in a run path. Every failure is an InvalidArgument on
the caller's field that says which form was expected.

`resolve` maps a parsed URI to an artifact URI through the stores, and checks again that
the result lies below the artifact root: a location is validated when it is written and
once more whenever it is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from trackway.errors import FailedPrecondition, InvalidArgument, invalid
from trackway.registry import limits
from trackway.registry import validation as check
from trackway.registry.entities import ModelVersion, Resolution
from trackway.tracking.entities import RunInfo

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_DIGITS = re.compile(r"[0-9]+")
_FORMS = (
    "models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/<stage>, "
    "models:/<name>/latest or runs:/<run_id>/<path>"
)


@dataclass(frozen=True, slots=True)
class ModelUri:
    """A parsed `models:/` URI: exactly one of version, alias, stage or latest is set."""

    name: str
    version: int = 0
    alias: str = ""
    stage: str = ""
    latest: bool = False


@dataclass(frozen=True, slots=True)
class RunUri:
    """A parsed `runs:/` URI; `path` is relative to the run's artifact root ('' = root)."""

    run_id: str
    path: str = ""


ParsedUri = ModelUri | RunUri


def is_registry_uri(uri: str) -> bool:
    """True when `uri` uses the `models:` or `runs:` scheme (in any case)."""
    match = _SCHEME.match(uri)
    return match is not None and match.group(1).lower() in ("models", "runs")


def parse(uri: str, field_path: str = "uri") -> ParsedUri:
    """Parses a `models:/` or `runs:/` URI, raising InvalidArgument on `field_path`."""
    check.uri_text(field_path, uri, limits.MAX_URI_LENGTH)
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme not in ("models", "runs"):
        raise invalid(field_path, f"{uri[:200]!r} is not one of {_FORMS}")
    rest = uri[match.end() :] if match else ""
    if not rest.startswith("/") or rest.startswith("//"):
        raise invalid(
            field_path,
            f"{uri[:200]!r} must start with '{scheme}:/' followed by the "
            f"{'model name' if scheme == 'models' else 'run id'}; a host part "
            f"('{scheme}://...') is not supported",
        )
    rest = rest[1:]
    if scheme == "runs":
        return _parse_run(uri, rest, field_path)
    return _parse_model(uri, rest, field_path)


def _parse_run(uri: str, rest: str, field_path: str) -> RunUri:
    run_id, _, path = rest.partition("/")
    if not _RUN_ID.fullmatch(run_id):
        raise invalid(field_path, f"{uri[:200]!r}: {run_id[:40]!r} is not a run id")
    path = path.rstrip("/")
    if path and any(s in ("", ".", "..") for s in path.split("/")):
        raise invalid(
            field_path, f"{uri[:200]!r}: the path must not contain '.', '..' or empty segments"
        )
    return RunUri(run_id, path)


def _parse_model(uri: str, rest: str, field_path: str) -> ModelUri:
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if "/" in name or "/" in alias:
            raise invalid(field_path, f"{uri[:200]!r} is not models:/<name>@<alias>")
        return ModelUri(_name(uri, name, field_path), alias=_alias(uri, alias, field_path))
    parts = rest.split("/")
    if len(parts) != 2 or not parts[1]:
        raise invalid(field_path, f"{uri[:200]!r} is not one of {_FORMS}")
    name = _name(uri, parts[0], field_path)
    suffix = parts[1]
    if _DIGITS.fullmatch(suffix):
        number = int(suffix)
        if not 0 < number <= check.MAX_VERSION:
            raise invalid(field_path, f"{uri[:200]!r}: {suffix[:40]} is not a version number")
        return ModelUri(name, version=number)
    if suffix.lower() == "latest":
        return ModelUri(name, latest=True)
    try:
        return ModelUri(name, stage=check.stage(field_path, suffix))
    except InvalidArgument:
        raise invalid(
            field_path,
            f"{uri[:200]!r}: {suffix[:40]!r} is not a version number, a stage "
            "(None, Staging, Production, Archived) or 'latest'",
        ) from None


def _name(uri: str, name: str, field_path: str) -> str:
    try:
        return check.model_name(field_path, name)
    except InvalidArgument as exc:
        raise invalid(field_path, f"{uri[:200]!r}: the model name {_why(exc)}") from None


def _alias(uri: str, alias: str, field_path: str) -> str:
    try:
        return check.alias(field_path, alias)
    except InvalidArgument as exc:
        raise invalid(field_path, f"{uri[:200]!r}: the alias {_why(exc)}") from None


def _why(exc: InvalidArgument) -> str:
    return exc.violations[0].description if exc.violations else exc.message


class VersionReader(Protocol):
    """What resolution needs of the registry store."""

    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    def newest_version(self, name: str, stage: str | None) -> ModelVersion: ...


class RunReader(Protocol):
    """What resolution needs of the tracking store."""

    def get_run_info(self, run_id: str) -> RunInfo: ...


def resolve(
    uri: str | ParsedUri,
    *,
    registry: VersionReader,
    tracking: RunReader,
    artifact_root: str,
    field_path: str = "uri",
) -> Resolution:
    """The artifact location a URI points to.

    Raises InvalidArgument on `field_path` for a malformed URI, NotFound when the model,
    version, alias, stage or run is missing, and FailedPrecondition when the stored
    location it leads to is not below `artifact_root` (never served, whatever put it there).
    """
    parsed = parse(uri, field_path) if isinstance(uri, str) else uri
    if isinstance(parsed, RunUri):
        info = tracking.get_run_info(parsed.run_id)
        base = info.artifact_uri.rstrip("/")
        location = f"{base}/{parsed.path}" if parsed.path else base
        return Resolution(served(location, artifact_root), None, parsed.run_id)
    version = _find_version(parsed, registry)
    return Resolution(served(version.storage_location, artifact_root), version, version.run_id)


def served(location: str, artifact_root: str) -> str:
    """`location` if it may be served: the read-time check of what the write-time check
    let in. A stored location outside the root means the data was tampered with or the
    server's root moved; either way nothing outside the root is handed out."""
    try:
        check.inside_root("location", location, artifact_root)
    except InvalidArgument:
        raise FailedPrecondition(
            f"the stored artifact location {location[:200]!r} is not below the server's "
            f"artifact root {artifact_root!r}; refusing to serve it"
        ) from None
    return location


def _find_version(parsed: ModelUri, registry: VersionReader) -> ModelVersion:
    if parsed.version:
        return registry.get_model_version(parsed.name, parsed.version)
    if parsed.alias:
        return registry.get_model_version_by_alias(parsed.name, parsed.alias)
    return registry.newest_version(parsed.name, parsed.stage or None)
