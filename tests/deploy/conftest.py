"""The deploy/ folder, read as data: manifests as YAML documents, the Dockerfile as
instructions, and the real `trackway` command-line parser to check what they run."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from trackway import cli
from trackway.commands import health

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def manifests() -> dict[str, list[dict[str, Any]]]:
    """Every YAML file below deploy/k8s, by path relative to it, as its documents."""
    found = {}
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        with path.open() as f:
            found[str(path.relative_to(DEPLOY / "k8s"))] = [d for d in yaml.safe_load_all(f) if d]
    return found


def named(kind: str, name: str, folder: str) -> dict[str, Any]:
    docs = [d for n, ds in manifests().items() if n.startswith(folder) for d in ds]
    matching = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matching) == 1, f"expected one {kind} {name!r} in {folder}, found {len(matching)}"
    return matching[0]


def one(kind: str, folder: str) -> dict[str, Any]:
    docs = [d for name, ds in manifests().items() if name.startswith(folder) for d in ds]
    matching = [d for d in docs if d["kind"] == kind]
    assert len(matching) == 1, f"expected one {kind} in {folder}, found {len(matching)}"
    return matching[0]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def command_words(arguments: str) -> list[str]:
    """The words of an exec-form (JSON array) or shell-form command."""
    return list(json.loads(arguments)) if arguments.startswith("[") else shlex.split(arguments)


def trackway_parser() -> argparse.ArgumentParser:
    """The `trackway server` and `trackway health` commands as the CLI defines them,
    with errors raised instead of exiting."""

    class Strict(argparse.ArgumentParser):
        def error(self, message: str) -> Any:
            raise ValueError(message)

    parser = Strict(prog="trackway")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Strict)
    cli._server_parser(sub)
    health.register(sub)
    return parser


@pytest.fixture
def parse_trackway() -> Any:
    parser = trackway_parser()

    def parse(words: list[str]) -> argparse.Namespace:
        assert words[0] == "trackway", words
        try:
            return parser.parse_args(words[1:])
        except SystemExit as exc:  # argparse exits on errors of nested parsers too
            raise AssertionError(f"`{' '.join(words)}` does not parse: exit {exc.code}") from exc

    return parse
