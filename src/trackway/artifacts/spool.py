"""Upload spools: bytes land in a hidden staging file first, and become a stored file
only once they are whole and verified. A crash at any point leaves a spool, never a
partial artifact; the sweeper removes spools nobody will finish.

Resumable sessions (and multipart uploads, multipart.py) are staged in the staging
folder, which is on the local disk of the server that received them, even when the
artifact root is an object store shared by several replicas. Every server process that
stages in one folder shares that folder's replica tag (`replica.json`), and the ids it
hands out start with the tag. A session id that reaches a replica with another tag
therefore fails with FAILED_PRECONDITION that says where the session lives, rather
than a puzzling NOT_FOUND: behind a load balancer, a session's calls must stick to one
replica (or the replicas must share the staging folder, as processes on one machine do).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from trackway.errors import DataLoss, FailedPrecondition, InvalidArgument, NotFound

MAX_CHUNK = 4 * 1024 * 1024
PIPELINE_AFTER = 4 * 1024 * 1024
PIPELINE_DEPTH = 16
EARLY_SYNC = 128 * 1024 * 1024
_READ = 1024 * 1024
SESSION_TTL_SECONDS = 24 * 3600
REPLICA_FILE = "replica.json"
_HEX = frozenset("0123456789abcdef")


class Spool:
    """One staging file being written; `sha256` covers every byte written. A spool made
    with `hashed=False` keeps no digest: its owner has no use for one, and on two cores
    hashing as it goes costs uploads a fifth of their speed.

    Small files are written inline. Past `PIPELINE_AFTER` bytes, writing, hashing and
    early flushing move to a helper thread, so that they overlap with receiving the
    next chunks (all three release the GIL); the hand-over queue is bounded, which
    pushes back on the sender through gRPC flow control and keeps memory flat.
    """

    def __init__(self, path: Path, *, append: bool = False, hashed: bool = True) -> None:
        self.path = path
        self._file = open(path, "ab" if append else "wb")  # noqa: SIM115 - closed in close()
        self.size = self._file.tell()
        self.hashed = hashed
        self._digest = hashlib.sha256() if hashed and not append else None
        self._queue: queue.Queue[bytes | memoryview | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._unsynced = 0

    def write_all(self, chunks: Iterable[bytes | memoryview], limit: int | None = None) -> None:
        for chunk in chunks:
            if len(chunk) > MAX_CHUNK:
                raise InvalidArgument(f"chunk: {len(chunk)} bytes; at most {MAX_CHUNK} per message")
            if limit is not None and self.size + len(chunk) > limit:
                raise InvalidArgument(
                    f"size: the upload sends more than the {limit} bytes it announced"
                )
            if self._error is not None:
                raise self._error
            self.size += len(chunk)
            if self._queue is not None:
                # Hash here while the helper thread writes the previous chunks: the two
                # run on both cores, since each releases the GIL for large buffers.
                if self._digest is not None:
                    self._digest.update(chunk)
                self._queue.put(chunk)
                continue
            self._write(chunk)
            if self.size > PIPELINE_AFTER:
                self._queue = queue.Queue(PIPELINE_DEPTH)
                self._thread = threading.Thread(target=self._drain, daemon=True)
                self._thread.start()

    def _write(self, chunk: bytes | memoryview, *, hashed: bool = False) -> None:
        self._file.write(chunk)
        if self._digest is not None and not hashed:
            self._digest.update(chunk)
        self._unsynced += len(chunk)
        if self._unsynced >= EARLY_SYNC:
            # Start writeback now, so that the final fsync has little left to do.
            self._file.flush()
            os.fdatasync(self._file.fileno())
            self._unsynced = 0

    def _drain(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(chunk, hashed=True)
                except BaseException as exc:
                    self._error = exc

    def _settle(self) -> None:
        """Waits for the helper thread to write what it was handed."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None
        if self._error is not None:
            raise self._error

    def sha256(self) -> str:
        """The digest of the whole file, reading it back when it was appended to; ""
        for a spool made with `hashed=False`."""
        self._settle()
        if not self.hashed:
            return ""
        if self._digest is not None:
            return self._digest.hexdigest()
        if not self._file.closed:
            self._file.flush()
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            while block := handle.read(_READ):
                digest.update(block)
        return digest.hexdigest()

    def close(self, *, sync: bool = True) -> None:
        try:
            self._settle()
        finally:
            if not self._file.closed:
                self._file.flush()
                if sync:
                    os.fsync(self._file.fileno())
                self._file.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # the spool is being thrown away anyway
            self.close(sync=False)
        self.path.unlink(missing_ok=True)


def verify(spool: Spool, size: int, expected_sha256: str) -> str:
    """Checks the size and digest of a finished spool; returns the digest ("" when the
    spool keeps none, which it must when a digest is expected)."""
    if size and spool.size != size:
        raise InvalidArgument(f"size: the upload announced {size} bytes but sent {spool.size}")
    digest = spool.sha256()
    if expected_sha256 and digest != expected_sha256.lower():
        raise DataLoss(
            f"sha256: the bytes received hash to {digest}, not the expected "
            f"{expected_sha256}; nothing was kept, upload the file again"
        )
    return digest


def new_spool(staging: Path, *, hashed: bool = True) -> Spool:
    staging.mkdir(parents=True, exist_ok=True)
    return Spool(staging / f"{uuid.uuid4().hex}.part", hashed=hashed)


@dataclass(frozen=True)
class Replica:
    """The servers that stage uploads in one staging folder, as their ids name them."""

    tag: str
    host: str

    def new_id(self) -> str:
        """An upload id: the 8-character tag, then 96 random bits (32 hex characters)."""
        return self.tag + secrets.token_hex(12)

    def foreign_tag(self, upload_id: str) -> str | None:
        """The tag of another replica that `upload_id` was made by, else None (ours, an
        id from before tags, or no id of ours at all)."""
        tag = upload_id[:8]
        if len(upload_id) != 32 or not _HEX.issuperset(upload_id) or tag == self.tag:
            return None
        return tag if _tagged(tag[:4]) == tag else None

    def elsewhere(self, what: str, tag: str) -> FailedPrecondition:
        return FailedPrecondition(
            f"{what} is staged on another server replica ({tag}); this is replica "
            f"{self.tag} on {self.host}. Its bytes stay on the disk of the replica that "
            "opened it: send its calls to that replica (sticky sessions at the load "
            "balancer, or list only that replica), or start the upload again here",
            metadata={"replica": tag},
        )


def _tagged(random_part: str) -> str:
    """A replica tag: 4 random hex characters and 4 of their hash, so that an id of no
    replica (`0000...`) is rarely taken for one of another replica."""
    return random_part + hashlib.sha256(random_part.encode()).hexdigest()[:4]


def replica(staging: Path) -> Replica:
    """The staging folder's replica, made on first use; processes racing to make it
    agree on the first that is published."""
    path = staging / REPLICA_FILE
    while True:
        try:
            found = json.loads(path.read_text())
            return Replica(str(found["tag"]), str(found.get("host", "")))
        except FileNotFoundError:
            pass
        staging.mkdir(parents=True, exist_ok=True)
        mine = Replica(_tagged(secrets.token_hex(2)), socket.gethostname())
        tmp = staging / f"{REPLICA_FILE}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(asdict(mine)))
        try:
            os.link(tmp, path)  # publishes the whole file, or fails if one exists
        except FileExistsError:
            continue
        finally:
            tmp.unlink(missing_ok=True)
        return mine


@dataclass
class Session:
    """A resumable upload: where it goes, how big it is, and what it should hash to."""

    session_id: str
    prefix: str
    path: str
    size: int
    expected_sha256: str
    created: float


class SessionStore:
    """Sessions as a JSON record plus a spool file in the staging folder."""

    def __init__(self, staging: Path) -> None:
        self._dir = staging / "sessions"
        self.replica = replica(staging)

    def _files(self, session_id: str) -> tuple[Path, Path]:
        if not session_id.isalnum() or len(session_id) != 32:
            raise NotFound(f"upload session {session_id[:64]!r} does not exist")
        return self._dir / f"{session_id}.json", self._dir / f"{session_id}.part"

    def create(self, prefix: str, path: str, size: int, expected_sha256: str) -> Session:
        self._dir.mkdir(parents=True, exist_ok=True)
        session_id = self.replica.new_id()
        session = Session(session_id, prefix, path, size, expected_sha256, time.time())
        record, part = self._files(session.session_id)
        part.touch()
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(session)))
        os.replace(tmp, record)
        return session

    def get(self, session_id: str) -> tuple[Session, int]:
        """The session and its committed bytes. Raises NotFound when gone."""
        record, part = self._files(session_id)
        try:
            session = Session(**json.loads(record.read_text()))
            return session, part.stat().st_size
        except FileNotFoundError as exc:
            tag = self.replica.foreign_tag(session_id)
            if tag is not None:
                raise self.replica.elsewhere(f"upload session {session_id}", tag) from exc
            raise NotFound(f"upload session {session_id} does not exist or expired") from exc

    def open(self, session_id: str) -> Spool:
        return Spool(self._files(session_id)[1], append=True)

    def finish(self, session_id: str) -> None:
        record, part = self._files(session_id)
        record.unlink(missing_ok=True)
        part.unlink(missing_ok=True)

    def sweep(self, staging: Path, now: float | None = None) -> int:
        """Removes sessions and loose spools idle for longer than the session TTL."""
        cutoff = (now or time.time()) - SESSION_TTL_SECONDS
        removed = 0
        if self._dir.is_dir():
            for record in self._dir.glob("*.json"):
                part = record.with_suffix(".part")
                last_write = part.stat().st_mtime if part.exists() else record.stat().st_mtime
                if last_write < cutoff:
                    self.finish(record.stem)
                    removed += 1
        if staging.is_dir():
            for spool in staging.glob("*.part"):
                if spool.stat().st_mtime < cutoff:
                    spool.unlink(missing_ok=True)
                    removed += 1
        return removed
