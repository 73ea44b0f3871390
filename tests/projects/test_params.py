"""Parameters: types, defaults, paths, and quoting that keeps every value data.

The injection cases run the rendered command in a real bash and compare the argv that
the program received with the values given, and check that nothing else ran."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trackway.errors import InvalidArgument
from trackway.projects import params, shellquote, spec
from trackway.projects.spec import EntryPoint, Parameter


def _entry(command: str, **types: str | tuple[str, str]) -> EntryPoint:
    declared = {}
    for name, kind in types.items():
        declared[name] = (
            Parameter(name, kind[0], kind[1]) if isinstance(kind, tuple) else Parameter(name, kind)
        )
    return EntryPoint("main", command, declared)


def _resolve(entry: EntryPoint, given: dict[str, object], tmp_path: Path) -> params.Resolved:
    return params.resolve(entry, given, cwd=tmp_path / "cwd", project_dir=tmp_path / "project")


def test_types_defaults_and_extras(tmp_path: Path) -> None:
    entry = _entry(
        "python train.py {epochs} {alpha} {name} {data} {src} {out}",
        epochs="int",
        alpha=("float", "0.5"),
        name=("string", "x"),
        data="path",
        src="uri",
        out=("path", "outputs/model"),
    )
    got = _resolve(
        entry,
        {"epochs": 10, "data": "in/data.csv", "src": "s3://b/k", "extra": 1.5, "flag": True},
        tmp_path,
    )
    assert got.declared == {
        "epochs": "10",
        "alpha": "0.5",
        "name": "x",
        # a value given by the caller is taken from the caller's directory ...
        "data": str(tmp_path / "cwd" / "in" / "data.csv"),
        "src": "s3://b/k",
        # ... a default, written by the project's author, from the project's
        "out": str(tmp_path / "project" / "outputs" / "model"),
    }
    assert got.extra == {"extra": "1.5", "flag": "true"}
    assert params.render(entry, got) == (
        f"python train.py 10 0.5 x {tmp_path}/cwd/in/data.csv s3://b/k "
        f"{tmp_path}/project/outputs/model --extra 1.5 --flag true"
    )


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("int", "abc", "parameter 'p' must be an int, not 'abc'"),
        ("int", "1.5", "must be an int"),
        ("int", "", "must be an int"),
        ("float", "fast", "parameter 'p' must be a float, not 'fast'"),
        ("path", "s3://bucket/key", "takes a local path, not 's3://bucket/key'"),
        ("path", "file://elsewhere/x", "a file URI on another host"),
        ("path", "", "is an empty path"),
        ("string", "a\x00b", "must not contain NUL"),
        ("string", "x" * 6001, "at most 6000"),
    ],
)
def test_bad_values(tmp_path: Path, kind: str, value: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        _resolve(_entry("x {p}", p=kind), {"p": value}, tmp_path)
    assert message in str(err.value)
    assert err.value.violations[0].field == "p"


def test_every_problem_at_once(tmp_path: Path) -> None:
    entry = _entry("x {a} {b} {c}", a="int", b="path", c=("float", "1"))
    with pytest.raises(InvalidArgument) as err:
        _resolve(entry, {"c": "nan-ish", "bad key!": "1"}, tmp_path)
    assert [v.field for v in err.value.violations] == ["a", "b", "c", "bad key!"]
    text = str(err.value)
    assert "parameter 'a' is required (int); give -P a=..." in text
    assert "parameter 'bad key!' " in text and "may only hold letters" in text


def test_path_forms(tmp_path: Path) -> None:
    entry = _entry("x {p}", p="path")
    assert _resolve(entry, {"p": "file:///data/a%20b.csv"}, tmp_path).declared["p"] == (
        "/data/a b.csv"
    )
    assert _resolve(entry, {"p": "/abs/../x"}, tmp_path).declared["p"] == "/x"
    home = _resolve(entry, {"p": "~/d"}, tmp_path).declared["p"]
    assert home == str(Path("~/d").expanduser())


INJECTIONS = [
    "; touch {canary}",
    "$(touch {canary})",
    "`touch {canary}`",
    "a\ntouch {canary}",
    "' ; touch {canary} ; '",
    '" ; touch {canary} ; "',
    "\\'; touch {canary}; #",
    "&& touch {canary}",
    "| touch {canary}",
    "> {canary}",
    "${{IFS}}touch${{IFS}}{canary}",
    "--flag=$(touch {canary})",
    "-rf",
    "",
    "  spaces  ",
    "ünïcode ✓ {{braces}} %s %(x)s",
]
TEMPLATES = [
    "{v}",
    "'{v}'",
    '"{v}"',
    "--name={v}",
    "--name='{v}'",
    '--name="prefix {v} suffix"',
    "$'{v}'",
    "\\{v}",
    "'it''s' {v}",
    '"a \\" b" {v}',
    '"$(printf %s {v})"',
    "\"$(printf %s '[' {v} ']')\"",
    '"`printf %s {v}`"',
    "{v} # it's a comment {v}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_values_stay_data_in_a_real_shell(tmp_path: Path, template: str) -> None:
    canary = tmp_path / "canary"
    program = (
        shlex.quote(sys.executable) + " -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    )
    entry = EntryPoint("main", f"{program} {template}", {"v": Parameter("v")})
    baseline = json.loads(
        subprocess.run(
            ["bash", "-c", f"{program} {template.replace('{v}', 'VALUE')}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    for raw in INJECTIONS:
        value = raw.format(canary=canary)
        resolved = params.resolve(entry, {"v": value}, cwd=tmp_path, project_dir=tmp_path)
        command = params.render(entry, resolved)
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path, timeout=30
        )
        assert done.returncode == 0, (command, done.stderr)
        argv = json.loads(done.stdout)
        assert not canary.exists(), command
        # The value arrives whole, and the author's own text around it is unchanged.
        expected = [arg.replace("VALUE", value) for arg in baseline]
        if template == "\\{v}":  # the author's backslash is kept, as a literal one
            expected = ["\\" + value]
        assert argv == expected, command


# Places whose output the shell then splits into words: only "nothing ran" is checked.
SPLIT_TEMPLATES = [
    "`printf %s '[' \"{v}\" ']'`",
    "`printf %s {v}`",
    '$(printf %s "{v}")',
    "`echo $(printf %s '{v}')`",
]


@pytest.mark.parametrize("template", SPLIT_TEMPLATES)
def test_nothing_runs_from_values_in_substitutions(tmp_path: Path, template: str) -> None:
    canary = tmp_path / "canary"
    for raw in INJECTIONS:
        command = shellquote.fill(f"echo {template}", {"v": raw.format(canary=canary)})
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr)
        assert not canary.exists(), command


def test_extra_parameters_are_quoted_too(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    program = (
        shlex.quote(sys.executable) + " -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    )
    entry = EntryPoint("main", program, {})
    value = f"$(touch {canary}); `touch {canary}`"
    command = params.render(entry, params.resolve(entry, {"k": value}, cwd=tmp_path,
                                                   project_dir=tmp_path))  # fmt: skip
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["--k", value]
    assert not canary.exists()


def test_a_quote_in_a_comment_does_not_mislead(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    template = "echo start # it's a comment\nprintf '%s\\n' {v}"
    value = f"a; touch {canary}"
    command = shellquote.fill(template, {"v": value})
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["start", value]
    assert not canary.exists()


@pytest.mark.parametrize(
    ("template", "place"),
    [
        ("echo ${{X:-{v}}}", "${...}"),
        ('echo "${{X:-{v}}}"', "${...}"),
        ("echo $(( {v} + 1 ))", "$((...))"),
        ("cat <<EOF\n{v}\nEOF", "a here-document"),
        ("echo `echo \\{v}`", "after a backslash inside backticks"),
    ],
)
def test_places_no_quoting_can_protect_are_refused(
    tmp_path: Path, template: str, place: str
) -> None:
    with pytest.raises(shellquote.UnsafePlaceholder, match=re.escape(place)):
        shellquote.check(template)
    (tmp_path / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters: {v: string}\n    command: "
        + json.dumps(template)
        + "\n"
    )
    with pytest.raises(InvalidArgument, match=re.escape(place)):
        spec.load(tmp_path)
    # Outside those places the same shapes are fine.
    shellquote.check("echo ${{X}} {v} $((1 + 2)) <<< {v} $(echo {v})")


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=40),
    # (Backticks are left to the cases above: bash's own reading of quotes nested in
    # them is too irregular to serve as the oracle here.)
    template=st.sampled_from([t for t in TEMPLATES if "`" not in t]),
)
def test_any_value_in_any_place_arrives_whole(value: str, template: str) -> None:
    entry = EntryPoint("main", f"printf '%s\\0' {template}", {"v": Parameter("v")})
    command = params.render(entry, params.Resolved({"v": value}, {}))
    done = subprocess.run(["bash", "-c", command], capture_output=True, check=True)
    got = done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    if "$(" in template:
        # What a substitution makes of the value (it drops trailing newlines, say) is
        # what it makes of the same value passed in a variable.
        as_variable = template.replace("{v}", '"$V"')
        truth = subprocess.run(
            ["bash", "-c", f"printf '%s\\0' {as_variable}"],
            capture_output=True,
            check=True,
            env={**os.environ, "V": value},
        )
        expected = truth.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    else:
        baseline = (
            subprocess.run(
                ["bash", "-c", f"printf '%s\\0' {template.replace('{v}', 'VALUE')}"],
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")[:-1]
        )
        expected = [a.replace("VALUE", value) for a in baseline]
    if template == "\\{v}":
        expected = ["\\" + value]
    assert got == expected, command
