"""The Google Cloud Storage repository: objects below `gs://bucket/prefix`.

A put of up to one chunk is a single-request upload; a larger one is a resumable upload
fed chunk by chunk from the file, and cancelled (its session deleted) on any failure, so
no object appears. Reads download ranges of at most 1 MiB pinned to the generation seen
when the read started. With STORAGE_EMULATOR_HOST set, the client talks to that emulator
with anonymous credentials.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.fileio import BlobWriter

from trackway.artifacts.repos._common import (
    PART_SIZE,
    READ_CHUNK,
    byte_range,
    dir_key,
    join_key,
    require_path,
    source_size,
    staging_folder,
)
from trackway.artifacts.repository import FileInfo

log = logging.getLogger(__name__)

EMULATOR_PROJECT = "trackway-test"
READ_TIMEOUT = (60, 300)
"""Seconds to connect, and to wait for each piece of a streamed read."""
CANCEL_TIMEOUT = (10, 30)


def make_client() -> storage.Client:
    """A client for Google's service, or for the emulator in STORAGE_EMULATOR_HOST."""
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        project = os.environ.get("GOOGLE_CLOUD_PROJECT") or EMULATOR_PROJECT
        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client()


class GCSRepository:
    """Objects below `prefix` in `bucket`."""

    def __init__(
        self, bucket: str, prefix: str, client: storage.Client, staging_root: Path | None
    ) -> None:
        self._client = client
        self._bucket = client.bucket(bucket)
        self._prefix = prefix
        self._staging_root = staging_root
        self.uri = f"gs://{bucket}/{prefix}" if prefix else f"gs://{bucket}"

    def staging_dir(self) -> Path:
        return staging_folder(self._staging_root)

    def _rel(self, name: str) -> str:
        return name[len(self._prefix) + 1 :] if self._prefix else name

    def sync(self) -> None:
        """Each put is durable once the store acknowledged it."""

    def put(self, source: Path, path: str, content_type: str = "", *, durable: bool = True) -> None:
        require_path(path)
        blob = self._bucket.blob(join_key(self._prefix, path))
        size = source_size(source)
        kind = content_type or "application/octet-stream"
        if size <= PART_SIZE:
            with source.open("rb") as handle:
                body = handle.read(size + 1)
            if len(body) != size:
                raise OSError(f"{source} changed while it was being uploaded")
            blob.upload_from_string(body, content_type=kind)
            return
        writer = BlobWriter(blob, chunk_size=PART_SIZE, content_type=kind)
        try:
            sent = 0
            with source.open("rb") as handle:
                while block := handle.read(READ_CHUNK):
                    writer.write(block)
                    sent += len(block)
            if sent != size:
                raise OSError(f"{source} changed while it was being uploaded")
            writer.close()
        except BaseException:
            _cancel(writer, blob.name)
            raise

    def _live_blob(self, path: str) -> Any:
        return self._bucket.get_blob(join_key(self._prefix, path)) if path else None

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        blob = self._live_blob(path)
        if blob is None:
            raise FileNotFoundError(f"no file at {path!r}")
        start, stop = byte_range(offset, length, int(blob.size or 0))
        if start >= stop:
            return iter(())
        # One streamed GET of the range, pinned to this generation: one round trip for the
        # whole read, and never bytes of two versions. The library's own download calls
        # only write into a file, so this uses its authorized session and download URL.
        pinned = self._bucket.blob(blob.name, generation=blob.generation)
        url = pinned._get_download_url(self._client)
        reply = self._client._http.get(
            url, headers={"Range": f"bytes={start}-{stop - 1}"}, stream=True, timeout=READ_TIMEOUT
        )
        if reply.status_code == 404:
            reply.close()
            raise FileNotFoundError(f"no file at {path!r} (it was replaced or deleted)")
        if reply.status_code != 206 and not (reply.status_code == 200 and start == 0):
            reply.close()
            raise OSError(f"GCS answered HTTP {reply.status_code} to a ranged read of {path!r}")
        return _stream(reply, stop - start, path)

    def stat(self, path: str) -> FileInfo | None:
        if not path:
            return FileInfo("", True)
        blob = self._live_blob(path)
        if blob is not None:
            return FileInfo(path, False, int(blob.size or 0))
        below = self._client.list_blobs(
            self._bucket, prefix=dir_key(self._prefix, path), max_results=1
        )
        return FileInfo(path, True) if any(True for _ in below) else None

    def list(self, path: str) -> list[FileInfo]:
        prefix = dir_key(self._prefix, path)
        found: list[FileInfo] = []
        pages = self._client.list_blobs(self._bucket, prefix=prefix, delimiter="/")
        for blob in pages:
            if blob.name != prefix:  # a "folder marker" object is not a child
                found.append(FileInfo(self._rel(blob.name), False, int(blob.size or 0)))
        for sub in pages.prefixes:
            found.append(FileInfo(self._rel(sub.rstrip("/")), True))
        return sorted(found, key=lambda info: info.path)

    def delete(self, path: str) -> int:
        require_path(path)
        names = [join_key(self._prefix, path)]
        names += [
            b.name
            for b in self._client.list_blobs(self._bucket, prefix=dir_key(self._prefix, path))
        ]
        count = 0
        for name in names:
            try:
                self._bucket.delete_blob(name)
            except NotFound:
                continue
            count += 1
        return count


def _stream(reply: Any, expected: int, path: str) -> Iterator[bytes]:
    got = 0
    try:
        for block in reply.iter_content(READ_CHUNK):
            if block:
                block = block[: expected - got]  # a server that ignored Range sends more
                got += len(block)
                yield block
                if got >= expected:
                    break
    finally:
        reply.close()
    if got < expected:
        raise OSError(f"the read of {path!r} ended after {got} of {expected} bytes")


def _cancel(writer: BlobWriter, name: str) -> None:
    """Deletes the resumable session (GCS answers 499) and disarms the writer.

    `writer.terminate()` alone is not enough: in google-cloud-storage 3.17 it sends its
    DELETE to the upload endpoint, not to the session URI, which cancels nothing. It is
    still called, because it closes the writer's buffer: otherwise the garbage collector's
    `close()` would upload the buffered rest and finalize a truncated object.
    """
    try:
        started = getattr(writer, "_upload_and_transport", None)
        if started:
            upload, transport = started
            url = getattr(upload, "resumable_url", None)
            if url:
                transport.delete(url, timeout=CANCEL_TIMEOUT)
    except Exception:  # the original failure matters more; GCS expires sessions in a week
        log.exception("could not cancel the resumable upload of %s", name)
    finally:
        try:
            writer.terminate()
        except Exception:
            log.exception("could not close the abandoned upload of %s", name)
