"""Virtual environments for projects, built once per environment spec and cached.

The spec comes from `python_env.yaml` (MLflow's format: `python`, `build_dependencies`,
`dependencies`) or a `requirements.txt`. Its hash (the Python version, the dependency
lines and the contents of the requirement files they name) is the cache key: a
directory under TRACKWAY_ENV_ROOT, else `$XDG_CACHE_HOME/trackway/envs`, else
`~/.cache/trackway/envs`. Builds take a file lock, so concurrent runs of one project
build the environment once; a directory is used only after its build finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trackway.errors import FailedPrecondition, InvalidArgument
from trackway.projects.spec import read_yaml

ENV_ROOT_ENV = "TRACKWAY_ENV_ROOT"
READY_MARKER = ".trackway-ready"
_FILE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")


@dataclass(frozen=True)
class PythonEnv:
    """What to install. `base` is where relative paths in the dependencies start."""

    base: Path
    python: str = ""
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()


def env_root() -> Path:
    configured = os.environ.get(ENV_ROOT_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "trackway" / "envs"


def spec_for(project_dir: Path, python_env: Path | None) -> PythonEnv:
    """The declared python_env file, else `python_env.yaml`, else `requirements.txt`,
    else an environment with nothing but pip."""
    candidate = python_env or project_dir / "python_env.yaml"
    if candidate.is_file():
        return read_python_env(candidate)
    if (project_dir / "requirements.txt").is_file():
        return PythonEnv(base=project_dir, dependencies=("-r requirements.txt",))
    return PythonEnv(base=project_dir)


def read_python_env(path: Path) -> PythonEnv:
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{path}: expected a mapping with python and dependencies")
    lists = {}
    for key in ("build_dependencies", "dependencies"):
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise InvalidArgument(f"{path}: {key} must be a list of requirement strings")
        lists[key] = tuple(str(v) for v in value)
    return PythonEnv(
        base=path.parent,
        python=str(raw.get("python") or ""),
        build_dependencies=lists["build_dependencies"],
        dependencies=lists["dependencies"],
    )


def interpreter(version: str) -> Path:
    """A Python of the asked version: this one when it matches, else `pythonX.Y` on PATH."""
    if not version:
        return Path(sys.executable)
    wanted = version.split(".")
    if [str(v) for v in sys.version_info[: min(len(wanted), 2)]] == wanted[:2]:
        return Path(sys.executable)  # the patch level is not worth refusing a run over
    found = shutil.which(f"python{'.'.join(wanted[:2])}")
    if found is None:
        here = ".".join(str(v) for v in sys.version_info[:3])
        raise FailedPrecondition(
            f"the project's python_env asks for Python {version}; this is Python {here} and "
            f"no python{'.'.join(wanted[:2])} is on PATH: install it, or use --env-manager local"
        )
    return Path(found)


def ensure(spec: PythonEnv, progress: Callable[[str], None]) -> Path:
    """The environment's directory, built now unless the cache holds it already."""
    python = interpreter(spec.python)
    key = _key(spec, python)
    root = env_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    if (target / READY_MARKER).is_file():
        return target
    with _locked(root / f"{key}.lock"):
        if (target / READY_MARKER).is_file():  # another run built it while we waited
            return target
        progress(f"building virtualenv {target} (cached for later runs)")
        shutil.rmtree(target, ignore_errors=True)  # what a killed build left
        try:
            _build(spec, python, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / READY_MARKER).write_text(json.dumps(_describe(spec, python)) + "\n")
    return target


def _build(spec: PythonEnv, python: Path, target: Path) -> None:
    _step([str(python), "-m", "venv", str(target)], spec.base, "creating the virtualenv")
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    if spec.build_dependencies:
        args = _pip_args(spec.build_dependencies)
        _step([*pip, *args], spec.base, "installing build_dependencies")
    if spec.dependencies:
        _step([*pip, *_pip_args(spec.dependencies)], spec.base, "installing dependencies")


def _pip_args(lines: tuple[str, ...]) -> list[str]:
    """Option lines such as `-r requirements.txt` split into words; a requirement such as
    `numpy>=1; python_version<'4'` stays one argument."""
    args: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("-"):
            args.extend(shlex.split(text))
        elif text:
            args.append(text)
    return args


def _step(argv: list[str], cwd: Path, what: str) -> None:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise FailedPrecondition(f"virtualenv: {what} failed: {tail[-1500:]}")


def _referenced_files(spec: PythonEnv) -> list[Path]:
    """The requirement and constraint files that the dependency lines name."""
    words = _pip_args(spec.build_dependencies + spec.dependencies)
    files: list[Path] = []
    for i, word in enumerate(words):
        if word in _FILE_OPTIONS and i + 1 < len(words):
            files.append(spec.base / words[i + 1])
        elif word.startswith(("--requirement=", "--constraint=")):
            files.append(spec.base / word.split("=", 1)[1])
    return files


def _describe(spec: PythonEnv, python: Path) -> dict[str, object]:
    here = python == Path(sys.executable)
    return {
        "python": str(python),
        "version": ".".join(str(v) for v in sys.version_info[:3]) if here else spec.python,
        "build_dependencies": list(spec.build_dependencies),
        "dependencies": list(spec.dependencies),
    }


def _key(spec: PythonEnv, python: Path) -> str:
    digest = hashlib.sha256(json.dumps(_describe(spec, python), sort_keys=True).encode())
    for path in _referenced_files(spec):
        if not path.is_file():
            raise InvalidArgument(f"the environment's dependencies name {path}, which is missing")
        digest.update(str(path.name).encode() + b"\0" + path.read_bytes())
    return "venv-" + digest.hexdigest()[:24]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
