"""The artifact service: scopes to roots, checked paths, verified uploads, bounded reads.

It owns the rules (which root a run or experiment writes to, what a safe path is,
when an upload becomes visible); a repository owns the bytes. gRPC and the REST
gateway's artifact proxy both call this class; the proxy alone uses the multipart
uploads (MLflow's `mpu/...` protocol, see multipart.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from trackway.artifacts import multipart, paths, spool
from trackway.artifacts.repository import ArtifactRepository, FileInfo
from trackway.errors import FailedPrecondition, NotFound, invalid
from trackway.search import decode_page_token, encode_page_token, query_fingerprint
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking import validation as check
from trackway.tracking.entities import ACTIVE

LIST_DEFAULT_PAGE = 1000
LIST_MAX_PAGE = 10_000

T = TypeVar("T")
ByteCounter = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Scope:
    """A run or an experiment whose artifact root a request addresses."""

    run_id: str = ""
    experiment_id: str = ""


@dataclass(frozen=True, slots=True)
class Stored:
    """An upload's outcome: the file once complete, and the bytes committed so far."""

    file: FileInfo | None
    sha256: str
    committed_bytes: int


@dataclass(frozen=True, slots=True)
class FolderFile:
    path: str
    size: int
    expected_sha256: str = ""


class ArtifactService:
    def __init__(self, store: SqlTrackingStore, repo: ArtifactRepository) -> None:
        self._store = store
        self._repo = repo
        self._root = repo.uri.rstrip("/")
        self._staging: Path = repo.staging_dir()
        self._sessions = spool.SessionStore(self._staging)
        self._multipart = multipart.MultipartUploads(self._staging)
        # Told the bytes each upload received and each download sent (for /metrics), once
        # per call rather than per chunk.
        self.count_uploaded: ByteCounter = _uncounted
        self.count_downloaded: ByteCounter = _uncounted

    @property
    def root_uri(self) -> str:
        return self._root

    def _prefix(self, scope: Scope, *, write: bool) -> tuple[str, str]:
        """The scope's path below the repository root, and the scope's root URI."""
        if scope.run_id:
            check.run_id("scope.run_id", scope.run_id)
            info = self._store.get_run_info(scope.run_id)
            if write and info.lifecycle_stage != ACTIVE:
                raise FailedPrecondition(f"run {scope.run_id} is deleted; restore it first")
            uri = info.artifact_uri
        elif scope.experiment_id:
            eid = check.experiment_id("scope.experiment_id", scope.experiment_id)
            exp = self._store.get_experiment(eid)
            if write and exp.lifecycle_stage != ACTIVE:
                raise FailedPrecondition(f"experiment {eid} is deleted; restore it first")
            uri = exp.artifact_location
        else:
            raise invalid("scope", "must name a run_id or an experiment_id")
        uri = uri.rstrip("/")
        if not uri.startswith(self._root + "/"):
            raise FailedPrecondition(
                f"the artifact location {uri!r} lies outside this server's artifact root "
                f"{self._root!r}; the server only serves files below its root"
            )
        return paths.clean("scope", uri[len(self._root) + 1 :]), uri

    # Uploads

    def upload(
        self,
        scope: Scope,
        path: str,
        chunks: Iterable[bytes | memoryview],
        *,
        size: int = 0,
        expected_sha256: str = "",
        content_type: str = "",
        digest: bool = True,
    ) -> Stored:
        """Stores a whole file from a stream; nothing is visible unless all of it arrived.
        With `digest=False` and no expected digest, the bytes are not hashed and the
        result's sha256 is empty."""
        prefix, _ = self._prefix(scope, write=True)
        path = paths.clean("path", path)
        _check_sha256(expected_sha256)
        if size < 0:
            raise invalid("size", "must not be negative")
        staged = spool.new_spool(self._staging, hashed=digest or bool(expected_sha256))
        try:
            staged.write_all(_tallied(chunks, self.count_uploaded), limit=size or None)
            staged.close(sync=False)  # the put makes it durable
            sha256 = spool.verify(staged, size, expected_sha256)
            self._put(staged.path, paths.join(prefix, path), path, content_type)
        finally:
            staged.discard()
        return Stored(FileInfo(path, False, staged.size), sha256, staged.size)

    def create_session(self, scope: Scope, path: str, size: int, expected_sha256: str) -> str:
        prefix, _ = self._prefix(scope, write=True)
        path = paths.clean("path", path)
        _check_sha256(expected_sha256)
        if size <= 0:
            raise invalid("size", "is required for a resumable upload and must be positive")
        self._check_target(paths.join(prefix, path), path)
        return self._sessions.create(prefix, path, size, expected_sha256).session_id

    def session_status(self, session_id: str) -> tuple[int, int]:
        """Committed bytes and total size of a session."""
        session, committed = self._sessions.get(session_id)
        return committed, session.size

    def upload_to_session(
        self,
        session_id: str,
        offset: int,
        chunks: Iterable[bytes | memoryview],
        content_type: str = "",
    ) -> Stored:
        """Appends a stream to a session; commits the file once the session is full."""
        session, committed = self._sessions.get(session_id)
        if offset != committed:
            raise FailedPrecondition(
                f"offset: the session has {committed} bytes committed; resume from there, "
                f"not from {offset}",
                metadata={"committed_bytes": str(committed)},
            )
        staged = self._sessions.open(session_id)
        try:
            staged.write_all(_tallied(chunks, self.count_uploaded), limit=session.size)
        finally:
            staged.close()
        if staged.size < session.size:
            return Stored(None, "", staged.size)
        try:
            digest = spool.verify(staged, session.size, session.expected_sha256)
            full = paths.join(session.prefix, session.path)
            self._put(staged.path, full, session.path, content_type)
        finally:
            self._sessions.finish(session_id)
        return Stored(FileInfo(session.path, False, staged.size), digest, staged.size)

    # Multipart uploads: parts arrive in any order and in parallel; one commit at the end

    def create_multipart(self, scope: Scope, path: str, num_parts: int) -> str:
        """Starts a multipart upload of `num_parts` parts to `path`; returns its id."""
        prefix, _ = self._prefix(scope, write=True)
        path = paths.clean("path", path)
        self._check_target(paths.join(prefix, path), path)
        return self._multipart.create(prefix, path, num_parts).upload_id

    def upload_part(
        self,
        upload_id: str,
        part_number: int,
        chunks: Iterable[bytes | memoryview],
        *,
        size: int = 0,
    ) -> str:
        """Stores one part from a stream (replacing an earlier version of it) and returns
        its ETag once the part is durable. The upload id alone names the upload: it is
        random, and the scope is checked again when the upload completes."""
        return self._multipart.put_part(
            upload_id, part_number, _tallied(chunks, self.count_uploaded), size
        )

    def complete_multipart(
        self, scope: Scope, path: str, upload_id: str, parts: Sequence[multipart.Part]
    ) -> Stored:
        """Joins every part, in order, into the file at `path`, which appears at once."""
        prefix, _ = self._prefix(scope, write=True)
        path = paths.clean("path", path)
        target = paths.join(prefix, path)

        def publish(source: Path) -> None:
            self._put(source, target, path)

        size, digest = self._multipart.complete(upload_id, prefix, path, parts, publish)
        return Stored(FileInfo(path, False, size), digest, size)

    def abort_multipart(self, scope: Scope, path: str, upload_id: str) -> None:
        """Drops a multipart upload and its parts; aborting one that is gone is no error."""
        # Allowed in a deleted run or experiment: aborting only removes staged bytes.
        prefix, _ = self._prefix(scope, write=False)
        path = paths.clean("path", path)
        self._multipart.abort(upload_id, prefix, path)

    def upload_folder(
        self, scope: Scope, base: str, items: Iterable[FolderFile | bytes]
    ) -> list[FileInfo]:
        """Stores files that arrive one after another in a single stream.

        `items` yields a FolderFile header, then that file's chunks, then the next
        header. Each file is committed when the next header (or the end) arrives.
        """
        prefix, _ = self._prefix(scope, write=True)
        base = paths.clean("start.path", base, allow_root=True)
        stored: list[FileInfo] = []
        current: tuple[FolderFile, str, spool.Spool] | None = None
        try:
            for item in _tallied(items, self.count_uploaded):
                if isinstance(item, FolderFile):
                    if current is not None:
                        stored.append(self._commit_folder_file(prefix, *current))
                        current = None
                    path = self._check_folder_file(base, item)
                    current = (item, path, spool.new_spool(self._staging))
                elif current is None:
                    raise invalid("chunk", "a file's chunks must follow its `file` header")
                else:
                    current[2].write_all([item], limit=current[0].size)
            if current is not None:
                stored.append(self._commit_folder_file(prefix, *current))
                current = None
            # One durability barrier for the whole folder instead of fsyncs per file.
            self._repo.sync()
        finally:
            if current is not None:
                current[2].discard()
        return stored

    @staticmethod
    def _check_folder_file(base: str, header: FolderFile) -> str:
        path = paths.join(base, paths.clean("file.path", header.path))
        _check_sha256(header.expected_sha256)
        if header.size < 0:
            raise invalid("file.size", "must not be negative")
        return path

    def _commit_folder_file(
        self, prefix: str, header: FolderFile, path: str, staged: spool.Spool
    ) -> FileInfo:
        try:
            staged.close(sync=False)
            if staged.size != header.size:
                raise invalid(
                    "file.size", f"{path!r} announced {header.size} bytes but sent {staged.size}"
                )
            spool.verify(staged, header.size, header.expected_sha256)
            self._put(staged.path, paths.join(prefix, path), path, durable=False, field="file.path")
        finally:
            staged.discard()
        return FileInfo(path, False, staged.size)

    # Reads

    def download(
        self, scope: Scope, path: str, offset: int = 0, length: int = 0
    ) -> tuple[int, Iterator[bytes]]:
        """The file's size, and its bytes from `offset` (at most `length`; 0 for all)."""
        prefix, _ = self._prefix(scope, write=False)
        path = paths.clean("path", path)
        if offset < 0 or length < 0:
            raise invalid("offset" if offset < 0 else "length", "must not be negative")
        info = self._stat(paths.join(prefix, path), path)
        if info.is_dir:
            raise invalid("path", f"{path!r} is a folder; list it, or download its files")
        if offset > info.size:
            raise invalid("offset", f"{offset} is past the end of the file ({info.size} bytes)")
        chunks = self._repo.read(paths.join(prefix, path), offset, length or None)
        return info.size, _tallied(chunks, self.count_downloaded)

    def stat(self, scope: Scope, path: str) -> FileInfo:
        prefix, _ = self._prefix(scope, write=False)
        path = paths.clean("path", path, allow_root=True)
        info = self._stat(paths.join(prefix, path), path)
        return FileInfo(path, info.is_dir, info.size)

    def _put(
        self,
        source: Path,
        full: str,
        shown: str,
        content_type: str = "",
        *,
        durable: bool = True,
        field: str = "path",
    ) -> None:
        """Publishes a file. A path that leads out of the root (a symlink, on local disk),
        is a folder or runs through a file is the client's mistake, not the server's."""
        try:
            self._repo.put(source, full, content_type, durable=durable)
        except PermissionError as exc:
            raise invalid(field, f"{shown!r} leads outside the artifact root") from exc
        except IsADirectoryError:
            raise invalid(field, f"{shown!r} is a folder; a file cannot replace it") from None
        except NotADirectoryError:
            raise invalid(field, f"{shown!r} runs through a file, which holds no files") from None

    def _check_target(self, full: str, shown: str) -> None:
        """Refuses at once a target that leads out of the root (a symlink, on local disk),
        so that a session or a multipart upload is not accepted only to fail at its end."""
        try:
            self._repo.stat(full)
        except PermissionError as exc:
            raise invalid("path", f"{shown!r} leads outside the artifact root") from exc

    def _stat(self, full: str, shown: str) -> FileInfo:
        try:
            info = self._repo.stat(full)
        except PermissionError as exc:
            raise invalid("path", f"{shown!r} leads outside the artifact root") from exc
        if info is None:
            raise NotFound(f"no artifact at {shown!r}")
        return info

    def list(
        self, scope: Scope, path: str, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[FileInfo], str, str]:
        """A page of a folder's direct children, the next token, and the scope's root URI."""
        prefix, root_uri = self._prefix(scope, write=False)
        path = paths.clean("path", path, allow_root=True)
        size = check.page_size("page_size", page_size, LIST_DEFAULT_PAGE, LIST_MAX_PAGE)
        fingerprint = query_fingerprint("artifacts", prefix, path)
        after = str(decode_page_token(page_token, fingerprint)[0]) if page_token else None
        try:
            children = self._repo.list(paths.join(prefix, path))
        except PermissionError as exc:
            raise invalid("path", f"{path!r} leads outside the artifact root") from exc
        cut = len(prefix) + 1 if prefix else 0
        found = [FileInfo(c.path[cut:], c.is_dir, c.size) for c in children]
        if after is not None:
            found = [f for f in found if f.path > after]
        page = found[:size]
        token = encode_page_token(fingerprint, [page[-1].path]) if len(found) > size else ""
        return page, token, root_uri

    def delete(self, scope: Scope, path: str) -> int:
        # Deletes are allowed in a deleted run or experiment: that is how garbage
        # collection clears the files before a purge removes the records.
        prefix, _ = self._prefix(scope, write=False)
        path = paths.clean("path", path)
        self._stat(paths.join(prefix, path), path)
        try:
            return self._repo.delete(paths.join(prefix, path))
        except PermissionError as exc:
            raise invalid("path", f"{path!r} leads outside the artifact root") from exc

    def sweep(self) -> int:
        """Removes expired sessions, abandoned multipart uploads and loose spools."""
        return self._sessions.sweep(self._staging) + self._multipart.sweep()


def _uncounted(size: int) -> None:
    pass


def _tallied(items: Iterable[T], count: ByteCounter) -> Iterator[T]:
    """Passes a stream's items on and tells `count` its bytes once, when it ends."""
    total = 0
    try:
        for item in items:
            if isinstance(item, memoryview):
                total += item.nbytes
            elif isinstance(item, bytes):
                total += len(item)
            yield item
    finally:
        count(total)


def _check_sha256(value: str) -> None:
    if value and (len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value)):
        raise invalid("expected_sha256", "must be 64 hex characters")
