"""The S3 repository (boto3): objects below `s3://bucket/prefix`.

A put of up to one part is a single PutObject; a larger one is a multipart upload whose
parts are read from the file and sent at most MAX_CONCURRENCY at a time, and which is
aborted on any failure, so no object and no pending upload is left behind. Reads are
ranged GETs pinned to the ETag seen when the read started, so a concurrent replace fails
the read instead of mixing two versions. "Folders" are key prefixes ending in '/'.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from trackway.artifacts.repos._common import (
    PART_SIZE,
    READ_CHUNK,
    byte_range,
    dir_key,
    join_key,
    part_size_for,
    require_path,
    source_size,
    staging_folder,
    upload_parts,
)
from trackway.artifacts.repository import FileInfo

log = logging.getLogger(__name__)

MAX_PARTS = 10_000
DELETE_BATCH = 1000
_MISSING = {"404", "NoSuchKey", "NotFound"}


def make_client(endpoint_url: str | None, checksums: str) -> Any:
    """An S3 client; path-style addressing when a custom endpoint is given."""
    options: dict[str, Any] = {"retries": {"max_attempts": 5, "mode": "standard"}}
    if checksums == "when_required":
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    if endpoint_url:
        options["s3"] = {"addressing_style": "path"}
    return boto3.client("s3", endpoint_url=endpoint_url, config=Config(**options))


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3Repository:
    """Objects below `prefix` in `bucket`."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: Any,
        staging_root: Path | None,
        checksums: str = "when_supported",
    ) -> None:
        self._bucket = bucket
        self._checksums = checksums
        self._prefix = prefix
        self._client = client
        self._staging_root = staging_root
        self.uri = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    def staging_dir(self) -> Path:
        return staging_folder(self._staging_root)

    def _rel(self, key: str) -> str:
        return key[len(self._prefix) + 1 :] if self._prefix else key

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return head

    def sync(self) -> None:
        """Each put is durable once the store acknowledged it."""

    def put(self, source: Path, path: str, content_type: str = "", *, durable: bool = True) -> None:
        require_path(path)
        key = join_key(self._prefix, path)
        size = source_size(source)
        extra = {"ContentType": content_type} if content_type else {}
        part_size = part_size_for(size, MAX_PARTS, PART_SIZE)
        if size <= part_size:
            with source.open("rb") as handle:
                body = handle.read(size + 1)
            if len(body) != size:
                raise OSError(f"{source} changed while it was being uploaded")
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, **extra)
            return
        if self._checksums == "when_supported":
            # As boto3's own transfers do: declare the algorithm whose part checksums
            # botocore adds, so that complete_multipart_upload may list them.
            extra["ChecksumAlgorithm"] = "CRC32"
        upload = self._client.create_multipart_upload(Bucket=self._bucket, Key=key, **extra)
        upload_id = upload["UploadId"]
        try:

            def send(index: int, data: bytes) -> dict[str, Any]:
                done = self._client.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=index + 1,
                    Body=data,
                )
                part = {"PartNumber": index + 1, "ETag": done["ETag"]}
                for name in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256"):
                    if done.get(name):
                        part[name] = done[name]
                return part

            parts = upload_parts(source, size, part_size, send)
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(key, upload_id)
            raise

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except Exception:  # the original failure matters more; a lifecycle rule is the backstop
            log.exception(
                "could not abort multipart upload %s of s3://%s/%s", upload_id, self._bucket, key
            )

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        key = join_key(self._prefix, path)
        head = self._head(key) if path else None
        if head is None:
            raise FileNotFoundError(f"no file at {path!r}")
        start, stop = byte_range(offset, length, int(head["ContentLength"]))
        if start >= stop:
            return iter(())
        got = self._client.get_object(
            Bucket=self._bucket, Key=key, Range=f"bytes={start}-{stop - 1}", IfMatch=head["ETag"]
        )
        return _stream(got["Body"])

    def stat(self, path: str) -> FileInfo | None:
        if not path:
            return FileInfo("", True)
        head = self._head(join_key(self._prefix, path))
        if head is not None:
            return FileInfo(path, False, int(head["ContentLength"]))
        found = self._client.list_objects_v2(
            Bucket=self._bucket, Prefix=dir_key(self._prefix, path), MaxKeys=1
        )
        return FileInfo(path, True) if found.get("KeyCount", 0) else None

    def list(self, path: str) -> list[FileInfo]:
        prefix = dir_key(self._prefix, path)
        found: list[FileInfo] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                found.append(FileInfo(self._rel(common["Prefix"].rstrip("/")), True))
            for obj in page.get("Contents", []):
                if obj["Key"] != prefix:  # a "folder marker" object is not a child
                    found.append(FileInfo(self._rel(obj["Key"]), False, int(obj["Size"])))
        return sorted(found, key=lambda info: info.path)

    def delete(self, path: str) -> int:
        require_path(path)
        key = join_key(self._prefix, path)
        count = 0
        if self._head(key) is not None:
            self._client.delete_object(Bucket=self._bucket, Key=key)
            count += 1
        batch: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=dir_key(self._prefix, path)
        )
        for page in pages:
            for obj in page.get("Contents", []):
                batch.append(obj["Key"])
                if len(batch) == DELETE_BATCH:
                    count += self._delete_batch(batch)
                    batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, keys: Sequence[str]) -> int:
        done = self._client.delete_objects(
            Bucket=self._bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = done.get("Errors", [])
        if errors:
            first = errors[0]
            raise OSError(
                f"S3 refused to delete {len(errors)} of {len(keys)} objects, "
                f"first {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
            )
        return len(keys)


def _stream(body: Any) -> Iterator[bytes]:
    try:
        for block in body.iter_chunks(READ_CHUNK):
            if block:
                yield block
    finally:
        body.close()
