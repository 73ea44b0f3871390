"""The artifact repository interface: one per storage backend, paths relative to a root.

A repository owns bytes and nothing else: it knows neither runs nor sessions. Every
path it receives has already passed `trackway.artifacts.paths.clean`, so it is a
non-empty relative POSIX path without `.`/`..` segments, backslashes or NUL bytes; an
implementation must still never read or write outside its root (for the local disk,
that includes following a symlink out of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file or folder below a repository's root."""

    path: str
    is_dir: bool
    size: int = 0


class ArtifactRepository(Protocol):
    """Stores files under a root, making each visible only once it is whole."""

    uri: str
    """The root URI, such as `file:///data/artifacts` or `s3://bucket/prefix`."""

    def put(self, source: Path, path: str, content_type: str = "", *, durable: bool = True) -> None:
        """Stores the local file `source` at `path`, replacing what was there.

        With `durable=False` the put may return before the bytes are on stable storage;
        `sync()` later makes every such put durable at once (many small files).

        Atomic: readers see the old content or the whole new one, never a part. A
        failed put leaves nothing behind (aborted multipart uploads, uncommitted
        blocks, cancelled resumable sessions). Memory stays bounded by the part size.
        `source` may be consumed (moved) by the repository.
        """
        ...

    def sync(self) -> None:
        """Makes every put so far durable. Object stores are durable at each put."""
        ...

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Yields the bytes of the file at `path` from `offset`, at most `length` of them,
        in chunks of at most 1 MiB. Raises FileNotFoundError when there is no such file."""
        ...

    def stat(self, path: str) -> FileInfo | None:
        """The file or folder at `path`, or None. The empty path is the root folder."""
        ...

    def list(self, path: str) -> list[FileInfo]:
        """The direct children of the folder `path` ("" is the root), sorted by path.
        Paths in the result are relative to the repository root. A missing folder
        lists as empty."""
        ...

    def delete(self, path: str) -> int:
        """Deletes the file at `path`, or the folder and everything below it. Returns the
        number of files deleted (0 when nothing was there)."""
        ...

    def staging_dir(self) -> Path:
        """A local folder for upload spools. For the local disk it lies on the same
        filesystem as the root, so that `put` is a rename."""
        ...
