"""Reading MLproject files: every mistake is a clear error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.projects.conftest import write_project
from trackway.errors import InvalidArgument
from trackway.projects import spec
from trackway.projects.spec import DockerEnv, Parameter


def _load(tmp_path: Path, mlproject: str, **files: str) -> spec.Project:
    write_project(tmp_path, {"MLproject": mlproject, **files})
    return spec.load(tmp_path)


def test_full_mlproject(tmp_path: Path) -> None:
    project = _load(
        tmp_path,
        """
        name: demo
        python_env: python_env.yaml
        entry_points:
          main:
            parameters:
              data: path
              alpha: {type: float, default: 0.1}
              epochs: {type: int, default: 10}
              source: {type: uri}
              label: {default: hello}
              flag: {type: string, default: true}
            command: "python train.py --alpha {alpha} {data} {{literal}}"
          validate: "python validate.py"
        """,
        **{"python_env.yaml": "python: '3.11'\n"},
    )
    assert project.name == "demo" and project.has_mlproject
    assert project.python_env == (tmp_path / "python_env.yaml").resolve()
    main = project.entry_point("main")
    assert main.parameters == {
        "data": Parameter("data", "path", None),
        "alpha": Parameter("alpha", "float", "0.1"),
        "epochs": Parameter("epochs", "int", "10"),
        "source": Parameter("source", "uri", None),
        "label": Parameter("label", "string", "hello"),
        "flag": Parameter("flag", "string", "true"),
    }
    assert project.entry_point("validate").command == "python validate.py"


def test_mlproject_name_in_any_case_and_docker_env(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "mlproject": """
            docker_env:
              image: python:3.11-slim
              volumes: ["/data:/data"]
              environment: [["MODE", "fast"], "HOME"]
            entry_points:
              main: {command: "python x.py"}
            """
        },
    )
    project = spec.load(tmp_path)
    assert project.docker_env == DockerEnv(
        "python:3.11-slim", ("/data:/data",), (("MODE", "fast"), ("HOME", None))
    )


@pytest.mark.parametrize(
    ("mlproject", "message"),
    [
        ("entry_points: [a, b]", "entry_points must be a mapping"),
        ("entry_points:\n  main: {parameters: {}}", "entry point 'main' needs a command"),
        (
            "entry_points:\n  main:\n    parameters: {n: double}\n    command: x {n}",
            "parameter 'n' has type 'double'; use one of string, float, int, path, uri",
        ),
        ("entry_points:\n  main: {command: 'python x.py {nope}'}", "refers to {nope}"),
        (
            "entry_points:\n  main:\n    parameters: {a: string}\n    command: x {a.__class__}",
            "refers to {a.__class__}",
        ),
        ("entry_points:\n  main:\n    parameters: {a: string}\n    command: x {a!r}", "{a!r}"),
        ("entry_points:\n  main: {command: 'x {0}'}", "refers to {0}"),
        ("entry_points:\n  main: {command: 'awk {print}'}", "refers to {print}"),
        ("entry_points:\n  main: {command: 'x }'}", "Single '}'"),
        ("python_env: env.yaml\nentry_points: {}", "names 'env.yaml', which does not exist"),
        ("python_env: ../env.yaml\nentry_points: {}", "must be a relative path inside"),
        ("python_env: a.yaml\nconda_env: b.yaml", "at most one of python_env, conda_env"),
        ("docker_env: {volumes: []}", "docker_env needs an image"),
        ("- just\n- a list", "expected a mapping"),
        ("entry_points: {main: {command: 'x'}\n", "is not valid YAML"),
    ],
)
def test_broken_mlproject(tmp_path: Path, mlproject: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        _load(tmp_path, mlproject)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_entry_point_names_the_declared_ones(tmp_path: Path) -> None:
    project = _load(tmp_path, "entry_points:\n  main: {command: x}\n  other: {command: y}")
    with pytest.raises(InvalidArgument, match=r"'train' is not in project .*: main, other"):
        project.entry_point("train")


def test_without_mlproject_scripts_are_entry_points(tmp_path: Path) -> None:
    write_project(tmp_path, {"train.py": "", "sub/prep it.sh": "", "weird{x}.py": ""})
    project = spec.load(tmp_path)
    assert not project.has_mlproject
    assert project.entry_point("train.py").command == "python train.py"
    assert project.entry_point("sub/prep it.sh").command == "bash 'sub/prep it.sh'"
    # Braces in a file name are escaped: the command is a template like any other.
    assert project.entry_point("weird{x}.py").command == "python 'weird{{x}}.py'"
    with pytest.raises(InvalidArgument, match="no MLproject"):
        project.entry_point("main")
    with pytest.raises(InvalidArgument, match="no such file"):
        project.entry_point("missing.py")
    with pytest.raises(InvalidArgument, match="relative path inside the project"):
        project.entry_point("../outside.py")


def test_a_script_entry_point_next_to_an_mlproject(tmp_path: Path) -> None:
    project = _load(tmp_path, "entry_points:\n  main: {command: x}", **{"extra.py": ""})
    assert project.entry_point("extra.py").command == "python extra.py"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        spec.load(tmp_path / "nope")
