"""Multipart uploads: a file sent as numbered parts, in any order and in parallel, that
becomes one stored file only when the client completes it.

Each upload is a folder below the staging folder:

    multipart/<upload id>/upload.json       where the file goes and how many parts it has
    multipart/<upload id>/<n>.<etag>.part   part n, durable, named after its bytes' hash
    multipart/<upload id>/<n>.<random>.tmp  part n while it arrives

A part streams into its own .tmp spool, is fsynced, and is then renamed to its final
name. The name carries the ETag (the SHA-256 of the part's bytes), so one rename
publishes the bytes and their ETag together: a crash can never pair one version's bytes
with another version's ETag. Putting a part again replaces it. Completing reads the
listed parts, each checked against its ETag, in order into one ordinary spool that the
caller publishes the way any upload is published: nothing of a half-finished upload is
ever visible, and the final file appears at once.

The upload id is the staging folder's replica tag and 96 random bits (see
`spool.Replica`): it is the only thing a part URL carries, so it must not be guessable.
Several processes (`--workers`, or servers on one machine) may serve the parts of one
upload, so the steps that change what an upload holds (publishing a part, completing,
aborting, sweeping) hold an flock on the upload's folder, not a thread lock. A replica
with another staging folder answers an upload's calls with FAILED_PRECONDITION naming
the replica that holds it: an upload's calls must stick to that replica.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from trackway.artifacts import spool
from trackway.errors import NotFound, invalid

MAX_PARTS = 10_000
"""As S3: enough for a 50 GB file in 5 MiB parts, or a 5 TB one in 500 MiB parts."""
MAX_PART_BYTES = 5 * 1024**3
UPLOAD_TTL_SECONDS = spool.SESSION_TTL_SECONDS
"""An upload nobody has written to for this long is swept with its parts."""

_RECORD = "upload.json"
_HEX = frozenset("0123456789abcdef")
_READ = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    """A multipart upload: the file it makes, below the scope's `prefix`."""

    upload_id: str
    prefix: str
    path: str
    num_parts: int
    created: float


@dataclass(frozen=True, slots=True)
class Part:
    """A part that a completion lists: its number (from 1) and the ETag its PUT returned."""

    number: int
    etag: str


class MultipartUploads:
    """The multipart uploads staged in one staging folder."""

    def __init__(self, staging: Path) -> None:
        self._staging = staging
        self._dir = staging / "multipart"
        self.replica = spool.replica(staging)

    def _folder(self, upload_id: str) -> Path:
        if len(upload_id) != 32 or not _HEX.issuperset(upload_id):
            raise NotFound(f"multipart upload {upload_id[:64]!r} does not exist")
        return self._dir / upload_id

    def create(self, prefix: str, path: str, num_parts: int) -> Upload:
        """Starts an upload of `num_parts` parts (0 makes an empty file) to `path`."""
        if not 0 <= num_parts <= MAX_PARTS:
            raise invalid("num_parts", f"is {num_parts}; it must be between 0 and {MAX_PARTS}")
        upload = Upload(self.replica.new_id(), prefix, path, num_parts, time.time())
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = self._dir / upload.upload_id
        folder.mkdir(mode=0o700)
        tmp = folder / f"{_RECORD}.tmp"
        with open(tmp, "w") as handle:
            handle.write(json.dumps(asdict(upload)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / _RECORD)
        _fsync_dir(folder)
        _fsync_dir(self._dir)
        return upload

    def get(self, upload_id: str) -> Upload:
        upload = _read(self._folder(upload_id))
        if upload is None:
            raise self._gone(upload_id)
        return upload

    def put_part(
        self, upload_id: str, number: int, chunks: Iterable[bytes | memoryview], size: int = 0
    ) -> str:
        """Stores part `number` from a stream, replacing any earlier version of it, and
        returns its ETag once the part is durable. `size` (0 when unknown) is checked."""
        folder = self._folder(upload_id)
        upload = self.get(upload_id)
        if not 1 <= number <= upload.num_parts:
            raise invalid(
                "part_number", f"is {number}; this upload has parts 1 to {upload.num_parts}"
            )
        if not 0 <= size <= MAX_PART_BYTES:
            raise invalid("size", f"is {size} bytes; a part holds at most {MAX_PART_BYTES}")
        try:
            staged = spool.Spool(folder / f"{number}.{secrets.token_hex(8)}.tmp")
        except FileNotFoundError:
            raise self._gone(upload_id) from None  # aborted, completed or swept meanwhile
        try:
            staged.write_all(_capped(chunks), limit=size or None)
            staged.close()  # fsync: a part is durable before its ETag is handed out
            spool.verify(staged, size, "")
            etag = staged.sha256()
            with self._locked(folder) as current:
                if current is None:
                    raise self._gone(upload_id)
                final = folder / f"{number}.{etag}.part"
                os.replace(staged.path, final)
                for older in folder.glob(f"{number}.*.part"):
                    if older != final:
                        older.unlink(missing_ok=True)
                _fsync_dir(folder)
        finally:
            staged.discard()
        return etag

    def complete(
        self,
        upload_id: str,
        prefix: str,
        path: str,
        parts: Sequence[Part],
        publish: Callable[[Path], None],
    ) -> tuple[int, str]:
        """Joins the listed parts into one spool, hands it to `publish`, and removes the
        upload. Returns the file's size and SHA-256.

        `parts` must list each of the upload's parts 1..N exactly once (in any order),
        each with the ETag of its current bytes: completing with fewer would store a file
        shorter than the one the client split. If `publish` fails the upload stays as it
        was, so the client may complete again or abort.
        """
        folder = self._folder(upload_id)
        with self._locked(folder) as upload:
            if upload is None:
                raise self._gone(upload_id)
            if (upload.prefix, upload.path) != (prefix, path):
                raise NotFound(f"multipart upload {upload_id} is not an upload of {path!r}")
            files = _listed_files(folder, upload, parts)
            staged = spool.new_spool(self._staging)
            try:
                staged.write_all(_read_files(files))
                staged.close(sync=False)  # publishing makes it durable
                digest = staged.sha256()
                publish(staged.path)
            finally:
                staged.discard()
            shutil.rmtree(folder, ignore_errors=True)
        return staged.size, digest

    def abort(self, upload_id: str, prefix: str, path: str) -> bool:
        """Removes the upload and its parts. Returns False when it was already gone, so
        that aborting twice (or after a completion) is not an error."""
        folder = self._folder(upload_id)
        with self._locked(folder) as upload:
            if upload is None:
                if self.replica.foreign_tag(upload_id) is not None:
                    raise self._gone(upload_id)  # it is not gone: it is elsewhere
                return False
            if (upload.prefix, upload.path) != (prefix, path):
                raise NotFound(f"multipart upload {upload_id} is not an upload of {path!r}")
            shutil.rmtree(folder, ignore_errors=True)
        return True

    def sweep(self, now: float | None = None) -> int:
        """Removes uploads that nobody has written to for UPLOAD_TTL_SECONDS, skipping
        any that another request holds right now. Returns how many were removed."""
        cutoff = (now or time.time()) - UPLOAD_TTL_SECONDS
        if not self._dir.is_dir():
            return 0
        removed = 0
        for folder in self._dir.iterdir():
            if not folder.is_dir() or folder.is_symlink():
                continue
            try:
                last_write = max(p.stat().st_mtime for p in [folder, *folder.iterdir()])
            except FileNotFoundError:
                continue  # removed while we looked
            if last_write >= cutoff:
                continue
            try:
                with self._locked(folder, wait=False):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            except BlockingIOError:
                continue  # in use right now, so not abandoned
        return removed

    def _gone(self, upload_id: str) -> Exception:
        tag = self.replica.foreign_tag(upload_id)
        if tag is not None:
            return self.replica.elsewhere(f"multipart upload {upload_id}", tag)
        return NotFound(
            f"multipart upload {upload_id} does not exist: it was completed, aborted or expired"
        )

    @contextlib.contextmanager
    def _locked(self, folder: Path, *, wait: bool = True) -> Iterator[Upload | None]:
        """Holds the upload's folder lock; yields the upload, or None when it is gone
        (which it may have become while this waited for the lock)."""
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield _read(folder)
        finally:
            os.close(fd)  # releases the lock


def normalize_etag(etag: str) -> str:
    """An ETag as compared: HTTP's quotes and weak marker removed, lower case."""
    value = etag.strip()
    value = value.removeprefix("W/")
    return value.strip('"').lower()


def _listed_files(folder: Path, upload: Upload, parts: Sequence[Part]) -> list[Path]:
    """The part files a completion names, in part order, after checking the list."""
    seen: dict[int, int] = {}
    for i, part in enumerate(parts):
        if not 1 <= part.number <= upload.num_parts:
            raise invalid(
                f"parts[{i}].part_number",
                f"is {part.number}; this upload has parts 1 to {upload.num_parts}",
            )
        if part.number in seen:
            raise invalid(f"parts[{i}].part_number", f"part {part.number} is listed twice")
        seen[part.number] = i
    missing = [n for n in range(1, upload.num_parts + 1) if n not in seen]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise invalid(
            "parts",
            f"part(s) {shown} are not listed; a completion lists all {upload.num_parts} parts",
        )
    files = []
    for number in range(1, upload.num_parts + 1):
        i = seen[number]
        etag = normalize_etag(parts[i].etag)
        candidate = folder / f"{number}.{etag}.part"
        if len(etag) == 64 and _HEX.issuperset(etag) and candidate.is_file():
            files.append(candidate)
        elif any(folder.glob(f"{number}.*.part")):
            raise invalid(
                f"parts[{i}].etag",
                f"{parts[i].etag[:80]!r} is not the ETag of part {number}'s current bytes; "
                "list the ETag that the part's last PUT returned",
            )
        else:
            raise invalid(f"parts[{i}]", f"part {number} was never uploaded")
    return files


def _read_files(files: Iterable[Path]) -> Iterator[bytes]:
    for path in files:
        with open(path, "rb") as handle:
            while block := handle.read(_READ):
                yield block


def _capped(chunks: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_PART_BYTES:
            raise invalid("part", f"is over {MAX_PART_BYTES} bytes, the most a part may hold")
        yield chunk


def _read(folder: Path) -> Upload | None:
    try:
        return Upload(**json.loads((folder / _RECORD).read_text()))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
