"""The environment files of a saved model: what it takes to load it elsewhere.

- `requirements.txt`: pip requirements, pinned to the versions installed here;
- `python_env.yaml`: the Python version and build tools, for a virtualenv;
- `conda.yaml`: the same for conda.

These are the files, with the shapes, that MLflow writes; `python_function`'s `env`
setting names the last two.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import yaml

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"
ENV_SETTING = {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}


def pinned(distributions: Iterable[str]) -> list[str]:
    """`name==version` for each installed distribution; missing ones are left out."""
    found = []
    for name in distributions:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def python_version() -> str:
    return platform.python_version()


def requirements(
    defaults: Sequence[str],
    pip_requirements: Sequence[str] | None = None,
    extra_pip_requirements: Sequence[str] | None = None,
) -> list[str]:
    """`pip_requirements` replaces the flavor's defaults (pinned from what is installed);
    `extra_pip_requirements` adds to them. Order is kept, duplicates dropped."""
    chosen = list(pip_requirements) if pip_requirements is not None else pinned(defaults)
    chosen += list(extra_pip_requirements or [])
    return list(dict.fromkeys(line.strip() for line in chosen if line.strip()))


def write(model_dir: Path, lines: Sequence[str]) -> dict[str, str]:
    """Writes the three files; returns the `env` setting of the python_function flavor."""
    (model_dir / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in lines), encoding="utf-8")
    tools = {name: _version(name) for name in ("pip", "setuptools", "wheel")}
    build = [f"{n}=={v}" if v else n for n, v in tools.items()]
    python_env = {
        "python": python_version(),
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (model_dir / PYTHON_ENV_FILE).write_text(
        yaml.safe_dump(python_env, sort_keys=False), encoding="utf-8"
    )
    pip_pin = f"pip<={tools['pip']}" if tools["pip"] else "pip"
    conda = {
        "name": "trackway-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python_version()}", pip_pin, {"pip": list(lines)}],
    }
    (model_dir / CONDA_FILE).write_text(yaml.safe_dump(conda, sort_keys=False), encoding="utf-8")
    return dict(ENV_SETTING)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
