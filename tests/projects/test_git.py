"""Projects from git: `file://` URIs to a repository made here, `#subdirectory`, and
`--version` as a commit, a branch or a tag, checked out into a temporary directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.projects.conftest import Launcher, all_runs, only_run, write_project
from trackway.client import TrackwayClient
from trackway.errors import InvalidArgument
from trackway.projects import fetch

MLPROJECT = """
entry_points:
  main:
    parameters:
      out: path
    command: "python report.py {out}"
"""


def _report(version: str) -> str:
    return f"""
import sys
with open(sys.argv[1], "w") as f:
    f.write("{version}")
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, str]:
    """A repository whose project lives in `ml/`: v1 on a commit, tagged; v2 on main;
    v3 on branch `feature`. Returns the commits by name."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commits = {}
    for version, extra in (("v1", ["tag", "v1.0"]), ("v2", None)):
        write_project(root / "ml", {"MLproject": MLPROJECT, "report.py": _report(version)})
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", version)
        commits[version] = git(root, "rev-parse", "HEAD")
        if extra:
            git(root, *extra)
    git(root, "checkout", "-q", "-b", "feature")
    write_project(root / "ml", {"report.py": _report("v3")})
    git(root, "commit", "-q", "-am", "v3")
    commits["v3"] = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "main")
    # Uncommitted work in the user's tree: a checkout of a version never touches it.
    write_project(root / "ml", {"report.py": _report("dirty")})
    return commits


@pytest.mark.parametrize(
    ("version", "expected", "branch"),
    [("v1.0", "v1", ""), ("feature", "v3", "feature"), ("COMMIT", "v1", ""), (None, "v2", "")],
)
def test_file_uri_with_subdirectory_and_version(
    trackway_run: Launcher,
    api: TrackwayClient,
    tmp_path: Path,
    repo: dict[str, str],
    version: str | None,
    expected: str,
    branch: str,
) -> None:
    uri = f"{(tmp_path / 'repo').as_uri()}#ml"
    out = tmp_path / "out.txt"
    if version == "COMMIT":
        version = repo["v1"][:10]  # an abbreviated commit works too
    args = ["--version", version] if version else []
    done = trackway_run(uri, "-P", f"out={out}", *args)
    assert done.code == 0, done.err
    assert out.read_text() == expected
    run = only_run(api)
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == repo[expected]
    assert tags["mlflow.source.git.repoURL"] == (tmp_path / "repo").as_uri()
    assert tags["mlflow.source.name"] == uri
    assert tags.get("mlflow.source.git.branch", "") == branch
    # The checkout was temporary, and the user's tree is as it was.
    assert "trackway-project-" in done.err
    clone = done.err.split(" in ", 1)[1].split(":", 1)[0]
    assert not Path(clone).exists()
    assert "dirty" in (tmp_path / "repo" / "ml" / "report.py").read_text()


def test_local_git_directory_runs_in_place_or_at_a_version(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path, repo: dict[str, str]
) -> None:
    out = tmp_path / "out.txt"
    project = tmp_path / "repo" / "ml"
    done = trackway_run(str(project), "-P", f"out={out}")
    assert done.code == 0, done.err
    assert out.read_text() == "dirty"  # in place: the work tree as it is
    assert only_run(api).data.tags["mlflow.source.git.commit"] == repo["v2"]
    # A folder inside the repository, at a version: the repository is cloned.
    done = trackway_run(str(project), "-P", f"out={out}", "--version", "feature")
    assert done.code == 0, done.err
    assert out.read_text() == "v3"


def test_unknown_version_and_subdirectory_create_no_run(
    trackway_run: Launcher, api: TrackwayClient, tmp_path: Path, repo: dict[str, str]
) -> None:
    base = (tmp_path / "repo").as_uri()
    for uri, args, message in [
        (f"{base}#ml", ["--version", "nope"], "--version 'nope': no such commit, branch or tag"),
        (f"{base}#ml", ["--version", "--upload-pack=touch x"], "is not a commit, branch or tag"),
        (f"{base}#missing", [], "the repository has no folder missing"),
        (f"{base}#../x", [], "must be relative, with no .."),
        (str(tmp_path), ["--version", "main"], "needs a git repository"),
        ("https://127.0.0.1:9/none.git", [], "git clone failed"),
    ]:
        done = trackway_run(uri, "-P", "out=x", *args)
        assert done.code == 1, (uri, args)
        assert done.err.startswith("trackway: error: ") and message in done.err, done.err
    assert all_runs(api) == []


def test_credentials_never_reach_the_tags() -> None:
    assert fetch._public("https://user:s3cret@example.com/r.git") == "https://example.com/r.git"
    assert fetch._public("git@example.com:org/r.git") == "git@example.com:org/r.git"
    with pytest.raises(InvalidArgument, match="use a local path, file://"):
        fetch.fetch("ftp://example.com/repo")
