"""Parameters of an entry point: checked against their types, then put into the command.

A value is data, never shell code: each one is quoted with `shlex.quote` where it lands
(see `shellquote`, which also copes with placeholders inside the author's own quotes).
Values that the entry point does not declare are appended as `--key value`, as MLflow does.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trackway.errors import FieldViolation, InvalidArgument, TrackwayError
from trackway.projects import shellquote
from trackway.projects.spec import EntryPoint, Parameter
from trackway.tracking import limits, validation

_INT = re.compile(r"[+-]?[0-9]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class Resolved:
    """Final values: `declared` (defaults filled in, paths absolute) and `extra`."""

    declared: dict[str, str]
    extra: dict[str, str]

    @property
    def everything(self) -> dict[str, str]:
        return {**self.declared, **self.extra}


def resolve(
    entry: EntryPoint, given: Mapping[str, object], *, cwd: Path, project_dir: Path
) -> Resolved:
    """Checks every value and fills in defaults; all problems are reported at once.

    A relative `path` given by the caller is taken from `cwd`; a relative default, which
    the project's author wrote, from the project directory."""
    problems: list[FieldViolation] = []
    declared: dict[str, str] = {}
    for name, param in entry.parameters.items():
        if name in given:
            raw, base = given[name], cwd
        elif param.default is not None:
            raw, base = param.default, project_dir
        else:
            problems.append(FieldViolation(name, f"is required ({param.type}); give -P {name}=..."))
            continue
        try:
            declared[name] = _value(param, _text(name, raw), base)
        except ValueError as exc:
            problems.append(FieldViolation(name, str(exc)))
    extra: dict[str, str] = {}
    for name, raw in given.items():
        if name in entry.parameters:
            continue
        try:
            extra[name] = _text(name, raw)
        except ValueError as exc:
            problems.append(FieldViolation(name, str(exc)))
    for name, value in {**declared, **extra}.items():
        try:
            validation.key(name, name)
            validation.text(name, value, limits.MAX_PARAM_VALUE_LENGTH)
        except TrackwayError as exc:
            problems.append(FieldViolation(name, str(exc).removeprefix(f"{name}: ")))
    if problems:
        text = "; ".join(f"parameter {p.field!r} {p.description}" for p in problems)
        raise InvalidArgument(f"entry point {entry.name!r}: {text}", problems)
    return Resolved(declared, extra)


def _text(name: str, raw: object) -> str:
    if raw is None:
        raise ValueError("has no value")
    if isinstance(raw, bool):
        return str(raw).lower()
    value = str(raw)
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _value(param: Parameter, value: str, base: Path) -> str:
    if param.type == "int":
        if not _INT.fullmatch(value.strip()):
            raise ValueError(f"must be an int, not {value[:100]!r}")
    elif param.type == "float":
        try:
            float(value)
        except ValueError:
            raise ValueError(f"must be a float, not {value[:100]!r}") from None
    elif param.type == "path":
        return _local_path(value, base)
    return value


def _local_path(value: str, base: Path) -> str:
    if not value:
        raise ValueError("is an empty path")
    if value.startswith("file:"):
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{value[:200]!r} is a file URI on another host")
        value = unquote(parts.path)
    elif _SCHEME.match(value):
        raise ValueError(
            f"takes a local path, not {value[:200]!r}; declare it as type uri to pass URIs"
        )
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def render(entry: EntryPoint, values: Resolved) -> str:
    """The shell command: the template with quoted values, then the extra parameters."""
    command = shellquote.fill(entry.command, values.declared)
    for key, value in values.extra.items():
        command += f" --{shlex.quote(key)} {shlex.quote(value)}"
    return command
