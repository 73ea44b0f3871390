"""Where a project comes from: a local directory, or a git repository checked out for the run.

`uri` is a path, `file:///path`, `https://host/repo.git`, `ssh://...` or `git@host:repo`,
with an optional `#sub/dir` naming the project inside it. A remote repository is cloned
into a temporary directory. A local path is used in place (the work tree as it is),
unless a `version` (commit, branch or tag) is asked for or the URI is a `file://` URI of
a repository: then it is cloned too, and the work tree the user is editing is never
touched. The temporary clone is removed when the run ends."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from trackway.errors import FailedPrecondition, InvalidArgument

REMOTE_SCHEMES = ("http", "https", "ssh", "git", "git+ssh")
_SCP_LIKE = re.compile(r"^[\w.\-]+@[\w.\-]+:(?!//)")  # git@github.com:org/repo.git
GIT_TIMEOUT_SECONDS = 600.0


@dataclass
class Source:
    """A fetched project: its directory and what the run records about where it came from."""

    directory: Path
    name: str  # the mlflow.source.name tag: the URI, or the absolute local path
    git_commit: str = ""
    git_repo_url: str = ""
    git_branch: str = ""
    temporary: Path | None = field(default=None, repr=False)

    def cleanup(self) -> None:
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None


def fetch(uri: str, version: str | None = None) -> Source:
    base, _, subdirectory = uri.partition("#")
    if not base:
        raise InvalidArgument(f"project URI {uri!r} names no project")
    if version is not None and (not version or version.startswith("-")):
        raise InvalidArgument(f"--version {version!r} is not a commit, branch or tag")
    if _is_remote(base):
        return _clone(base, base, version, subdirectory, uri)
    local = _local_path(base)
    if not local.is_dir():
        raise InvalidArgument(f"project {base!r}: no such directory")
    top = _git(["rev-parse", "--show-toplevel"], local, check=False)
    # A plain path without a version is the work tree as it is (the edit-and-rerun loop);
    # a version, or a file:// URI of a repository, asks for committed state: a clone.
    if version is None and (top is None or not base.startswith("file:")):
        directory = _subdirectory(local, subdirectory, uri)
        source = Source(directory, name=str(directory))
        _describe_local(source, local)
        return source
    if top is None:
        raise InvalidArgument(f"--version needs a git repository, and {local} is not in one")
    # A folder inside a repository: clone the repository, then find the folder in it.
    inner = local.relative_to(Path(top).resolve()).as_posix()
    if inner != ".":
        subdirectory = f"{inner}/{subdirectory}" if subdirectory else inner
    # The tags name the repository as the user did when that was a file:// URI of it.
    shown = base if base.startswith("file:") and inner == "." else top
    return _clone(shown, top, version, subdirectory, uri)


def _is_remote(base: str) -> bool:
    scheme = urlsplit(base).scheme.lower()
    return scheme in REMOTE_SCHEMES or bool(_SCP_LIKE.match(base))


def _local_path(base: str) -> Path:
    if base.startswith("file:"):
        parts = urlsplit(base)
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"project URI {base!r} is a file URI on another host")
        return Path(unquote(parts.path)).resolve()
    if urlsplit(base).scheme and "://" in base:
        raise InvalidArgument(
            f"project URI {base!r}: use a local path, file://, https://, ssh:// or git@host:repo"
        )
    return Path(base).expanduser().resolve()


def _subdirectory(root: Path, subdirectory: str, uri: str) -> Path:
    if not subdirectory:
        return root
    relative = Path(subdirectory)
    if relative.is_absolute() or ".." in relative.parts:
        raise InvalidArgument(f"project URI {uri!r}: #{subdirectory} must be relative, with no ..")
    directory = (root / relative).resolve()
    if not directory.is_relative_to(root.resolve()):
        raise InvalidArgument(f"project URI {uri!r}: #{subdirectory} leads out of the repository")
    if not directory.is_dir():
        raise InvalidArgument(f"project URI {uri!r}: the repository has no folder {subdirectory}")
    return directory


def _describe_local(source: Source, directory: Path) -> None:
    commit = _git(["rev-parse", "HEAD"], directory, check=False)
    if commit is None:
        return  # not a git work tree (or one without commits)
    source.git_commit = commit
    source.git_repo_url = _public(_git(["remote", "get-url", "origin"], directory, check=False))


def _clone(base: str, clone_from: str, version: str | None, subdirectory: str, uri: str) -> Source:
    temporary = Path(tempfile.mkdtemp(prefix="trackway-project-"))
    try:
        checkout = temporary / "repo"
        # `--` ends the options: a URI never becomes a flag of git.
        _git(["clone", "--quiet", "--no-checkout", "--", clone_from, str(checkout)], temporary)
        commit, branch = _resolve_version(checkout, version, base)
        _git(["checkout", "--quiet", "--detach", commit], checkout)
        directory = _subdirectory(checkout, subdirectory, uri)
        public = _public(base)
        return Source(
            directory,
            name=public + (f"#{subdirectory}" if subdirectory else ""),
            git_commit=commit,
            git_repo_url=public,
            git_branch=branch,
            temporary=temporary,
        )
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _resolve_version(checkout: Path, version: str | None, base: str) -> tuple[str, str]:
    """The commit to check out, and the branch it came from (empty for a commit or tag)."""
    if version is None:
        commit = _git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], checkout, check=False)
        if commit is None:
            raise InvalidArgument(f"git repository {base!r} has no commits")
        return commit, ""
    for candidate in (version, f"origin/{version}"):
        commit = _git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
            checkout,
            check=False,
        )
        if commit is not None:
            is_branch = _git(
                ["show-ref", "--verify", "--quiet", f"refs/remotes/origin/{version}"],
                checkout,
                check=False,
            )
            return commit, version if is_branch is not None else ""
    raise InvalidArgument(f"--version {version!r}: no such commit, branch or tag in {base}")


def _public(url: str | None) -> str:
    """A repository URL fit to be stored in a tag: without a password or token in it."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme and parts.password is not None:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def _git(args: list[str], cwd: Path, *, check: bool = True) -> str | None:
    """Runs git; its trimmed output, or None when it fails and `check` is false."""
    git = shutil.which("git")
    if git is None:
        raise FailedPrecondition("git projects need `git` on PATH; install git")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never wait for a password
    try:
        done = subprocess.run(
            [git, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise FailedPrecondition(
            f"git {args[0]} did not finish in {GIT_TIMEOUT_SECONDS:g} s"
        ) from None
    if done.returncode == 0:
        return done.stdout.strip()
    if not check:
        return None
    message = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
    raise FailedPrecondition(f"git {args[0]} failed: {message}")
