"""The local-disk repository: files under a root folder, each put made visible by a rename.

Symlinks: a path that leads outside the root once every symlink in it is resolved, or into
the staging folder, is refused with PermissionError on every operation (the service maps
that to INVALID_ARGUMENT). Links that stay inside the root work as the files they point
at; `list` leaves out children whose link leads outside. Reads also check the opened file
descriptor (through /proc/self/fd where there is one), so a link swapped in between the
check and the open is caught too. `put` and `delete` act on the link itself: a put
replaces the link with the new file, a delete removes the link, not what it points at.
Folders exist while they hold something: a delete removes the folders it leaves empty,
and a failed put the folders it made. A path that is simply absent gives FileNotFoundError
(read), None (stat), [] (list) or 0 (delete).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from trackway.artifacts.repos._common import READ_CHUNK, byte_range, require_path
from trackway.artifacts.repository import FileInfo

STAGING_NAME = ".trackway-staging"
_PROC_FD = Path("/proc/self/fd")


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalRepository:
    """Files below `root` on the local disk."""

    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ValueError(f"a local artifact root must be an absolute path, got {root}")
        root.mkdir(parents=True, exist_ok=True)
        self._root = Path(os.path.realpath(root))
        self._staging = self._root / STAGING_NAME
        self.uri = self._root.as_uri()

    # Path checks

    def _real(self, path: str) -> Path:
        """The fully resolved path of `path`, refused unless it stays inside the root and
        out of the staging folder."""
        real = Path(os.path.realpath(self._root / path))
        if real != self._root and not real.is_relative_to(self._root):
            raise PermissionError(f"{path!r} leads outside the artifact root")
        if real == self._staging or real.is_relative_to(self._staging):
            raise PermissionError(f"{path!r} is the repository's staging folder")
        return real

    def _check_fd(self, fd: int) -> None:
        link = _PROC_FD / str(fd)
        if link.exists():
            self._real(os.path.relpath(os.readlink(link), self._root))

    def _visible(self, entry: os.DirEntry[str]) -> bool:
        if not entry.is_symlink():
            return True
        try:
            self._real(os.path.relpath(entry.path, self._root))
        except PermissionError:
            return False
        return os.path.exists(entry.path)

    # The Protocol

    def staging_dir(self) -> Path:
        self._staging.mkdir(mode=0o700, exist_ok=True)
        return self._staging

    def sync(self) -> None:
        """Flushes every non-durable put at once; one barrier beats an fsync per file."""
        os.sync()

    def put(self, source: Path, path: str, content_type: str = "", *, durable: bool = True) -> None:
        require_path(path)
        self._real(path)
        target = self._root / path
        staging = self.staging_dir()
        ours = False
        # A spool already in the staging folder is on the root's filesystem: move it.
        if Path(os.path.realpath(source.parent)).is_relative_to(staging) and _plain_file(source):
            tmp = source
        else:
            tmp = self._copy_to_staging(source, staging)
            ours = True
        made: list[Path] = []
        try:
            if not ours and durable:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            try:
                made = self._make_parents(target)
                os.replace(tmp, target)
            except FileNotFoundError:
                # A concurrent delete pruned a folder we were about to use: once more.
                made = self._make_parents(target)
                os.replace(tmp, target)
        except BaseException:
            if ours:
                tmp.unlink(missing_ok=True)
            self._prune(made)
            raise
        if durable:
            _fsync_dir(target.parent)

    def _copy_to_staging(self, source: Path, staging: Path) -> Path:
        fd, name = tempfile.mkstemp(dir=staging, prefix="put-", suffix=".part")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                while block := src.read(READ_CHUNK):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _make_parents(self, target: Path) -> list[Path]:
        """Creates the folders above `target` one at a time, checking each stays inside;
        returns the ones it created."""
        made = []
        current = self._root
        for part in target.relative_to(self._root).parts[:-1]:
            current = current / part
            self._real(os.path.relpath(current, self._root))
            if not current.exists():
                current.mkdir(exist_ok=True)
                _fsync_dir(current.parent)
                made.append(current)
        return made

    def _prune(self, folders: list[Path]) -> None:
        """Removes the folders that are empty, deepest first: as in an object store, a
        folder exists only while something is in it."""
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder == self._root or not folder.is_relative_to(self._root):
                continue
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): it stays as it is
                return
            _fsync_dir(folder.parent)

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        real = self._real(path)
        if not real.is_file():
            raise FileNotFoundError(f"no file at {path!r}")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        handle = os.fdopen(os.open(real, flags), "rb")
        try:
            self._check_fd(handle.fileno())
            start, stop = byte_range(offset, length, os.fstat(handle.fileno()).st_size)
        except BaseException:
            handle.close()
            raise
        return _chunks(handle, start, stop)

    def stat(self, path: str) -> FileInfo | None:
        if not path:
            return FileInfo("", True)
        real = self._real(path)
        try:
            info = real.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if real.is_dir():
            return FileInfo(path, True)
        return FileInfo(path, False, info.st_size)

    def list(self, path: str) -> list[FileInfo]:
        real = self._real(path) if path else self._root
        try:
            entries = list(os.scandir(real))
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = []
        for entry in entries:
            if (not path and entry.name == STAGING_NAME) or not self._visible(entry):
                continue
            child = f"{path}/{entry.name}" if path else entry.name
            if entry.is_dir():
                found.append(FileInfo(child, True))
            else:
                found.append(FileInfo(child, False, entry.stat().st_size))
        return sorted(found, key=lambda info: info.path)

    def delete(self, path: str) -> int:
        require_path(path)
        self._real(path)
        target = self._root / path
        if target.is_symlink():
            # The link itself goes; what it points at (inside the root) stays.
            target.unlink()
            count = 1
        elif target.is_dir():
            count = _count_files(target)
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
            count = 1
        else:
            return 0
        _fsync_dir(target.parent)
        self._prune(list(target.parents))
        return count


def _chunks(handle: BinaryIO, start: int, stop: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = stop - start
        while remaining > 0:
            block = handle.read(min(READ_CHUNK, remaining))
            if not block:
                return
            remaining -= len(block)
            yield block


def _count_files(folder: Path) -> int:
    """Files (and links, which rmtree removes without following) below `folder`."""
    count = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                count += _count_files(Path(entry.path))
            else:
                count += 1
    return count


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()
