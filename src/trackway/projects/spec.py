"""The `MLproject` file: a project's name, environment and entry points, as MLflow writes it.

    name: demo
    python_env: python_env.yaml        # or conda_env: conda.yaml, or docker_env: {image: ...}
    entry_points:
      main:
        parameters:
          data: path                   # a type alone: required
          alpha: {type: float, default: 0.1}
        command: "python train.py --alpha {alpha} {data}"

Everything is checked when the file is read, so a broken project fails before any run
exists. A directory without an `MLproject` file is still a project: its `.py` and `.sh`
files are entry points, run directly (as MLflow does).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Any

from trackway.errors import InvalidArgument
from trackway.projects import shellquote

PARAMETER_TYPES = ("string", "float", "int", "path", "uri")
# What runs a script entry point; the shell is found when the command starts.
SCRIPT_RUNNERS = {".py": "python", ".sh": "bash"}
ENV_KEYS = ("python_env", "conda_env", "docker_env")


@dataclass(frozen=True)
class Parameter:
    """A declared parameter: its type, and its default (None: the parameter is required)."""

    name: str
    type: str = "string"
    default: str | None = None


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)


@dataclass(frozen=True)
class DockerEnv:
    image: str
    volumes: tuple[str, ...] = ()
    # (name, value) pairs; a value of None copies the launcher's own variable.
    environment: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str = ""
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    python_env: Path | None = None
    conda_env: Path | None = None
    docker_env: DockerEnv | None = None
    has_mlproject: bool = False

    def entry_point(self, name: str) -> EntryPoint:
        """The declared entry point, else a `.py`/`.sh` file of the project run directly."""
        found = self.entry_points.get(name)
        if found is not None:
            return found
        runner = SCRIPT_RUNNERS.get(os.path.splitext(name)[1])
        if runner is None:
            declared = ", ".join(sorted(self.entry_points)) or "none"
            where = "its MLproject declares" if self.has_mlproject else "it has no MLproject:"
            raise InvalidArgument(
                f"entry point {name!r} is not in project {self.directory} ({where} "
                f"entry points: {declared}); a .py or .sh file of the project also works"
            )
        script = _inside(self.directory, name, "entry point")
        if not script.is_file():
            raise InvalidArgument(f"entry point {name!r}: no such file in {self.directory}")
        # The command is a template like any other: braces in the file name are escaped.
        quoted = shlex.quote(name).replace("{", "{{").replace("}", "}}")
        return EntryPoint(name=name, command=f"{runner} {quoted}")


def load(directory: Path) -> Project:
    """Reads the project in `directory` (its MLproject file, if any)."""
    if not directory.is_dir():
        raise InvalidArgument(f"project directory {directory} does not exist")
    mlproject = _find_mlproject(directory)
    if mlproject is None:
        return Project(directory=directory)
    raw = read_yaml(mlproject)
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{mlproject}: expected a mapping at the top level")
    return _project(directory, raw, mlproject.name)


def _find_mlproject(directory: Path) -> Path | None:
    # MLflow accepts any capitalisation of the name.
    for entry in sorted(directory.iterdir()):
        if entry.name.lower() == "mlproject" and entry.is_file():
            return entry
    return None


def read_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML comes with the models and test extras
        raise InvalidArgument(f"reading {path} needs PyYAML: pip install pyyaml") from None
    try:
        # safe_load: a project file never constructs Python objects.
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None


def _project(directory: Path, raw: dict[str, Any], filename: str) -> Project:
    envs = [k for k in ENV_KEYS if raw.get(k) is not None]
    if len(envs) > 1:
        raise InvalidArgument(f"{filename}: give at most one of {', '.join(envs)}")
    entries = raw.get("entry_points") or {}
    if not isinstance(entries, dict):
        raise InvalidArgument(f"{filename}: entry_points must be a mapping of name to entry")
    return Project(
        directory=directory,
        name=str(raw.get("name") or ""),
        entry_points={
            str(name): _entry_point(str(name), value, filename) for name, value in entries.items()
        },
        python_env=_env_file(directory, raw, "python_env", filename),
        conda_env=_env_file(directory, raw, "conda_env", filename),
        docker_env=_docker_env(raw.get("docker_env"), filename),
        has_mlproject=True,
    )


def _env_file(directory: Path, raw: dict[str, Any], key: str, filename: str) -> Path | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{filename}: {key} must name a file of the project")
    path = _inside(directory, value, f"{filename}: {key}")
    if not path.is_file():
        raise InvalidArgument(f"{filename}: {key} names {value!r}, which does not exist")
    return path


def _docker_env(value: Any, filename: str) -> DockerEnv | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("image"), str):
        raise InvalidArgument(
            f"{filename}: docker_env needs an image, e.g. docker_env: {{image: x}}"
        )
    volumes = value.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
        raise InvalidArgument(f"{filename}: docker_env.volumes must be a list of strings")
    environment: list[tuple[str, str | None]] = []
    for item in value.get("environment") or []:
        if isinstance(item, str):
            environment.append((item, None))
        elif isinstance(item, list) and len(item) == 2:
            environment.append((str(item[0]), str(item[1])))
        else:
            raise InvalidArgument(
                f"{filename}: docker_env.environment items are NAME (copied from this "
                f"environment) or [NAME, VALUE], not {item!r}"
            )
    return DockerEnv(value["image"], tuple(volumes), tuple(environment))


def _entry_point(name: str, value: Any, filename: str) -> EntryPoint:
    where = f"{filename}: entry point {name!r}"
    if isinstance(value, str):  # shorthand: the command alone
        value = {"command": value}
    if not isinstance(value, dict) or not isinstance(value.get("command"), str):
        raise InvalidArgument(f"{where} needs a command")
    raw_params = value.get("parameters") or {}
    if not isinstance(raw_params, dict):
        raise InvalidArgument(f"{where}: parameters must be a mapping of name to type")
    params = {str(k): _parameter(str(k), v, where) for k, v in raw_params.items()}
    command: str = value["command"]
    _check_template(command, params, where)
    return EntryPoint(name=name, command=command, parameters=params)


def _parameter(name: str, value: Any, where: str) -> Parameter:
    if isinstance(value, str):
        kind, default = value, None
    elif isinstance(value, dict):
        kind, default = value.get("type", "string"), value.get("default")
    elif value is None:
        kind, default = "string", None
    else:
        raise InvalidArgument(f"{where}: parameter {name!r} must be a type or {{type, default}}")
    if kind not in PARAMETER_TYPES:
        raise InvalidArgument(
            f"{where}: parameter {name!r} has type {kind!r}; "
            f"use one of {', '.join(PARAMETER_TYPES)}"
        )
    if isinstance(default, bool):  # YAML's `true` would become "True"
        default = str(default).lower()
    return Parameter(name, kind, None if default is None else str(default))


def _check_template(command: str, params: dict[str, Parameter], where: str) -> None:
    """Every `{placeholder}` names a declared parameter, plainly: no `{0}`, `{a.b}` or
    `{a!r}`, so rendering never reaches beyond a parameter's value."""
    try:
        fields = [
            (f, spec, conv) for _, f, spec, conv in Formatter().parse(command) if f is not None
        ]
    except ValueError as exc:
        raise InvalidArgument(
            f"{where}: command template: {exc} (write {{{{ for a brace)"
        ) from None
    for name, spec, conversion in fields:
        if spec or conversion or name not in params:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise InvalidArgument(
                f"{where}: the command refers to {{{shown}}}, which is not a declared "
                "parameter (write {{ and }} for literal braces)"
            )
    try:
        shellquote.check(command)
    except shellquote.UnsafePlaceholder as exc:
        raise InvalidArgument(f"{where}: {exc}") from None


def _inside(directory: Path, relative: str, what: str) -> Path:
    """`relative` below `directory`, refusing absolute paths and ways out of it."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise InvalidArgument(f"{what} {relative!r} must be a relative path inside the project")
    resolved = (directory / candidate).resolve()
    if not resolved.is_relative_to(directory.resolve()):
        raise InvalidArgument(f"{what} {relative!r} leads out of the project (a symlink?)")
    return resolved
