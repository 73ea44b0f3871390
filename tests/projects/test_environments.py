"""Environment managers: virtualenv builds (and caches) a real venv; conda and docker say
clearly which tool is missing, before any run exists."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import zipfile
from pathlib import Path

from tests.projects.conftest import Launcher, all_runs, child_env, only_run, write_project
from trackway.client import TrackwayClient

# Which Python ran, and whether the environment's requirement is importable there.
PROBE = """
import sys
import twtiny

with open("which.txt", "w") as f:
    f.write(f"{sys.prefix} {twtiny.VALUE}")
"""
MAIN = "entry_points:\n  main: python probe.py\n"


def tiny_wheel(directory: Path) -> Path:
    """A real, installable wheel of a one-module package, made here so that pip needs no
    network: twtiny 0.1, whose `VALUE` is 42."""
    files = {
        "twtiny/__init__.py": b"VALUE = 42\n",
        "twtiny-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: twtiny\nVersion: 0.1\n",
        "twtiny-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("twtiny-0.1.dist-info/RECORD,,")
    path = directory / "twtiny-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("twtiny-0.1.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def test_virtualenv_from_requirements_is_built_once(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "venv-project",
        {"MLproject": MAIN, "probe.py": PROBE},
    )
    tiny_wheel(project)
    (project / "requirements.txt").write_text("./twtiny-0.1-py3-none-any.whl\n")
    done = trackway_run(str(project), "--env-manager", "virtualenv")
    assert done.code == 0, done.err
    prefix, value = (project / "which.txt").read_text().split()
    env_root = Path(os.environ["TRACKWAY_ENV_ROOT"])
    assert Path(prefix).parent == env_root and Path(prefix).name.startswith("venv-")
    assert Path(prefix) != Path(sys.prefix)
    assert value == "42"  # the requirement was installed into the venv
    assert "building virtualenv" in done.err
    assert only_run(api).data.tags["mlflow.project.env"] == "virtualenv"
    # The second run finds the environment in the cache.
    again = trackway_run(str(project), "--env-manager", "virtualenv")
    assert again.code == 0, again.err
    assert "building virtualenv" not in again.err
    assert (project / "which.txt").read_text().split()[0] == prefix
    # Local runs use this interpreter's environment, where twtiny is not installed.
    local = trackway_run(str(project), "--env-manager", "local")
    assert local.code == 1 and "No module named 'twtiny'" in local.err


def test_python_env_yaml_is_the_default_for_a_project_that_declares_it(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    project = write_project(
        tmp_path / "pyenv-project",
        {
            "MLproject": f"python_env: env/python_env.yaml\n{MAIN}",
            "probe.py": PROBE,
            "env/python_env.yaml": f"""
            python: "{here}"
            build_dependencies: [pip]
            dependencies:
              - -r requirements.txt
            """,
            "env/requirements.txt": f"{tiny_wheel(tmp_path)}\n",
        },
    )
    done = trackway_run(str(project))
    assert done.code == 0, done.err
    prefix, value = (project / "which.txt").read_text().split()
    assert value == "42" and Path(prefix).parent == Path(os.environ["TRACKWAY_ENV_ROOT"])
    assert only_run(api).data.tags["mlflow.project.env"] == "virtualenv"
    # An interpreter that is not here is a clear error, and no run.
    (project / "env" / "python_env.yaml").write_text("python: '3.1'\n")
    missing = trackway_run(str(project))
    assert missing.code == 1
    assert "asks for Python 3.1" in missing.err and "python3.1 is on PATH" in missing.err
    assert len(all_runs(api)) == 1


def test_a_failing_install_is_a_clear_error(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "bad-deps",
        {"train.py": "", "requirements.txt": "./no-such-0.1-py3-none-any.whl\n"},
    )
    done = trackway_run(str(project), "-e", "train.py", "--env-manager", "virtualenv")
    assert done.code == 1
    error = done.err.strip().splitlines()[-1]
    assert error.startswith("trackway: error: virtualenv: installing dependencies failed")
    assert "no-such-0.1-py3-none-any.whl" in error
    assert all_runs(api) == []
    built = [p for p in Path(os.environ["TRACKWAY_ENV_ROOT"]).glob("venv-*") if p.is_dir()]
    assert built == []  # nothing half-built is left to be mistaken for an environment


def _path_without(*tools: str) -> str:
    """This PATH less the directories that hold any of `tools`."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(
        d for d in dirs if d and not any(os.path.exists(os.path.join(d, t)) for t in tools)
    )


def test_conda_and_docker_missing_say_so(
    trackway_run: Launcher, api: TrackwayClient, uri: str, tmp_path: Path
) -> None:
    env = child_env(uri, PATH=_path_without("conda", "docker"))
    env.pop("CONDA_EXE", None)
    conda_project = write_project(
        tmp_path / "conda-project",
        {
            "MLproject": "conda_env: conda.yaml\nentry_points:\n  main: python x.py\n",
            "conda.yaml": "dependencies: [python=3.11]\n",
        },
    )
    docker_project = write_project(
        tmp_path / "docker-project",
        {"MLproject": "docker_env: {image: 'python:3.11'}\nentry_points:\n  main: python x.py\n"},
    )
    for project, args, tool in [
        (conda_project, [], "conda"),
        (conda_project, ["--env-manager", "conda"], "conda"),
        (docker_project, [], "docker"),
    ]:
        done = trackway_run(str(project), *args, env=env)
        assert done.code == 1, done.err
        (line,) = done.err.strip().splitlines()
        assert line.startswith("trackway: error: ")
        assert f"needs `{tool}`, which is not on PATH" in line
    assert all_runs(api) == []
    # Told to, a docker project runs locally.
    write_project(docker_project, {"x.py": "print('ran locally')"})
    done = trackway_run(str(docker_project), "--env-manager", "local", env=env)
    assert done.code == 0 and "ran locally" in done.out
