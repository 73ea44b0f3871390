"""Environment managers: where a project's command runs.

- `local`: this interpreter's environment (its bin directory first on PATH, so `python`
  is this Python);
- `virtualenv`: a cached venv built from python_env.yaml or requirements.txt;
- `conda`: a cached conda environment built from the project's conda_env;
- `docker`: the project's docker_env image, with the project mounted as the work dir.

Unless told otherwise, the project's own declaration picks one (docker_env → docker,
python_env → virtualenv, conda_env → conda, none → local). A missing tool is a clear
error before any run exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trackway.errors import FailedPrecondition, InvalidArgument
from trackway.projects import virtualenv
from trackway.projects.spec import DockerEnv, Project

ENV_MANAGERS = ("local", "virtualenv", "conda", "docker")
DOCKER_WORKDIR = "/trackway/project"
TOOL_CHECK_SECONDS = 30.0


@dataclass(frozen=True)
class Environment:
    manager: str
    bin_dirs: tuple[str, ...] = ()  # put first on PATH
    variables: dict[str, str] = field(default_factory=dict)
    docker: DockerEnv | None = None
    docker_exe: str = ""

    def environ(self, run_vars: Mapping[str, str]) -> dict[str, str]:
        """The child's environment: ours, this manager's changes, then the run's."""
        env = dict(os.environ)
        if self.bin_dirs:
            env["PATH"] = os.pathsep.join([*self.bin_dirs, env.get("PATH", os.defpath)])
        if self.manager in ("virtualenv", "conda"):
            env.pop("PYTHONHOME", None)  # it would point the env's python elsewhere
        env.update(self.variables)
        env.update(run_vars)
        return env

    def argv(self, command: str, directory: Path, run_vars: Mapping[str, str]) -> list[str]:
        if self.docker is None:
            return [shutil.which("bash") or "/bin/sh", "-c", command]
        flags = ["--rm", "--network", "host", "-v", f"{directory}:{DOCKER_WORKDIR}"]
        flags += ["-w", DOCKER_WORKDIR]
        for volume in self.docker.volumes:
            flags += ["-v", volume]
        for name, value in self.docker.environment:
            flags += ["-e", f"{name}={os.environ.get(name, '') if value is None else value}"]
        for name, value in run_vars.items():
            flags += ["-e", f"{name}={value}"]
        return [self.docker_exe, "run", *flags, self.docker.image, "sh", "-c", command]


def choose(project: Project, requested: str | None) -> str:
    if requested:
        if requested not in ENV_MANAGERS:
            raise InvalidArgument(
                f"env manager {requested!r} is not one of {', '.join(ENV_MANAGERS)}"
            )
        if requested == "docker" and project.docker_env is None:
            raise InvalidArgument("the docker env manager needs a docker_env in the MLproject")
        return requested
    if project.docker_env is not None:
        return "docker"
    if project.python_env is not None:
        return "virtualenv"
    if project.conda_env is not None:
        return "conda"
    return "local"


def prepare(project: Project, manager: str, progress: Callable[[str], None]) -> Environment:
    """Checks the manager's tool and builds (or finds in the cache) the environment."""
    if manager == "local":
        here = Path(sys.executable).parent
        return Environment("local", bin_dirs=(str(here),) if (here / "python").exists() else ())
    if manager == "virtualenv":
        spec = virtualenv.spec_for(project.directory, project.python_env)
        env_dir = virtualenv.ensure(spec, progress)
        return Environment(
            "virtualenv",
            bin_dirs=(str(env_dir / "bin"),),
            variables={"VIRTUAL_ENV": str(env_dir)},
        )
    if manager == "conda":
        return _conda(project, progress)
    return _docker(project)


def _conda(project: Project, progress: Callable[[str], None]) -> Environment:
    conda_file = project.conda_env or _first_file(project.directory, "conda.yaml", "conda.yml")
    conda = os.environ.get("CONDA_EXE") or shutil.which("conda")
    if conda is None:
        raise FailedPrecondition(
            "the conda env manager needs `conda`, which is not on PATH (nor set in "
            "CONDA_EXE): install Miniforge or Miniconda, or use --env-manager virtualenv or local"
        )
    if conda_file is None:
        raise InvalidArgument(
            f"the conda env manager needs a conda_env in the MLproject or a conda.yaml in "
            f"{project.directory}"
        )
    digest = hashlib.sha256(conda_file.read_bytes()).hexdigest()[:24]
    prefix = virtualenv.env_root() / f"conda-{digest}"
    ready = prefix / virtualenv.READY_MARKER
    if not ready.is_file():
        progress(f"building conda environment {prefix} (cached for later runs)")
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [conda, "env", "create", "--quiet", "--prefix", str(prefix), "--file", str(conda_file)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(prefix, ignore_errors=True)
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise FailedPrecondition(f"conda env create failed: {tail[-1500:]}")
        ready.write_text(str(conda_file) + "\n")
    return Environment(
        "conda",
        bin_dirs=(str(prefix / "bin"),),
        variables={"CONDA_PREFIX": str(prefix), "CONDA_DEFAULT_ENV": str(prefix)},
    )


def _docker(project: Project) -> Environment:
    docker_env = project.docker_env
    assert docker_env is not None  # choose() made sure
    docker = shutil.which("docker")
    if docker is None:
        raise FailedPrecondition(
            f"this project runs in Docker (docker_env image {docker_env.image!r}) and needs "
            "`docker`, which is not on PATH: install Docker, or use --env-manager local"
        )
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=TOOL_CHECK_SECONDS,
            check=False,
        )
        problem = "" if done.returncode == 0 else " ".join(done.stderr.split())[:500]
    except subprocess.TimeoutExpired:
        problem = f"`docker info` did not answer in {TOOL_CHECK_SECONDS:g} s"
    if problem:
        raise FailedPrecondition(
            f"this project runs in Docker (docker_env image {docker_env.image!r}), but the "
            f"Docker engine is not usable: {problem}"
        )
    return Environment("docker", docker=docker_env, docker_exe=docker)


def _first_file(directory: Path, *names: str) -> Path | None:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    return None
