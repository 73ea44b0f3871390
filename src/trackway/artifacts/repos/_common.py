"""Helpers shared by the repositories: chunk sizes, key prefixes, byte ranges, staging
folders and a bounded parallel part uploader for the object stores."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

READ_CHUNK = 1024 * 1024
"""`read` yields at most this many bytes at a time (the Protocol's 1 MiB)."""

PART_SIZE = 8 * 1024 * 1024
"""Multipart part, block and resumable-chunk size (a multiple of GCS's 256 KiB)."""

MAX_CONCURRENCY = 4
"""Parts in flight at once per put: memory stays near MAX_CONCURRENCY * PART_SIZE."""

T = TypeVar("T")


def split_prefix(raw: str) -> str:
    """The key prefix of a repository URI's path: no leading/trailing slashes, and no
    empty, `.` or `..` segments (those would let a URI point somewhere it does not say)."""
    prefix = raw.strip("/")
    if prefix and any(seg in ("", ".", "..") for seg in prefix.split("/")):
        raise ValueError(f"artifact root prefix {raw!r} has an empty, '.' or '..' segment")
    return prefix


def join_key(prefix: str, path: str) -> str:
    """The object key of `path` below `prefix` ("" for the root)."""
    if not prefix:
        return path
    return f"{prefix}/{path}" if path else prefix


def dir_key(prefix: str, path: str) -> str:
    """The key prefix that every object below folder `path` starts with."""
    key = join_key(prefix, path)
    return f"{key}/" if key else ""


def require_path(path: str) -> None:
    """put and delete need a file or folder, never the root itself."""
    if not path:
        raise ValueError("a path below the artifact root is required")


def byte_range(offset: int, length: int | None, size: int) -> tuple[int, int]:
    """The half-open range [start, stop) of a file of `size` bytes that a read covers.

    An offset at or past the end gives an empty range, as reading a file there does.
    """
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    if length is not None and length < 0:
        raise ValueError(f"length must not be negative, got {length}")
    start = min(offset, size)
    stop = size if length is None else min(size, start + length)
    return start, stop


def staging_folder(staging_root: Path | None) -> Path:
    """The local spool folder of an object-store repository, private to this user."""
    folder = staging_root or Path(tempfile.gettempdir()) / "trackway-staging"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def source_size(source: Path) -> int:
    """The size of a regular file to upload; anything else is refused."""
    info = source.stat()
    if not os.path.isfile(source):
        raise IsADirectoryError(f"{source} is not a regular file")
    return info.st_size


def part_size_for(size: int, max_parts: int, minimum: int = PART_SIZE) -> int:
    """A part size of at least `minimum` (whole MiB) that fits `size` in `max_parts` parts."""
    mib = 1024 * 1024
    needed = -(-size // max_parts)
    return max(minimum, -(-needed // mib) * mib)


def read_part(source: Path, offset: int, size: int) -> bytes:
    """Bytes [offset, offset + size) of `source`; a short read means the file changed."""
    with source.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(size)
    if len(data) != size:
        raise OSError(f"{source} changed while it was being uploaded")
    return data


def upload_parts(
    source: Path,
    size: int,
    part_size: int,
    send: Callable[[int, bytes], T],
    concurrency: int = MAX_CONCURRENCY,
) -> list[T]:
    """Calls `send(index, data)` for every part of `source` and returns the results in order.

    Each worker reads its own part just before sending it, so at most `concurrency` parts
    are in memory. The first failure stops new parts from starting; it is re-raised once
    the running ones have finished, so that the caller can abort the upload cleanly.
    """
    count = max(1, -(-size // part_size))
    spans = [(i * part_size, min(part_size, size - i * part_size)) for i in range(count)]
    if concurrency <= 1 or count == 1:
        return [send(i, read_part(source, off, n)) for i, (off, n) in enumerate(spans)]
    slots = threading.BoundedSemaphore(concurrency)
    errors: list[BaseException] = []
    lock = threading.Lock()
    futures: list[Future[T]] = []

    def work(index: int) -> T:
        try:
            off, n = spans[index]
            return send(index, read_part(source, off, n))
        except BaseException as exc:
            with lock:
                errors.append(exc)
            raise
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="part") as pool:
        for index in range(count):
            slots.acquire()
            if errors:
                slots.release()
                break
            futures.append(pool.submit(work, index))
    # Leaving the pool waited for every running part; report the first failure.
    if errors:
        raise errors[0]
    return [future.result() for future in futures]


def chunked(data: Iterator[bytes], limit: int = READ_CHUNK) -> Iterator[bytes]:
    """Re-slices a byte stream into non-empty pieces of at most `limit` bytes."""
    for block in data:
        for start in range(0, len(block), limit):
            yield block[start : start + limit]
