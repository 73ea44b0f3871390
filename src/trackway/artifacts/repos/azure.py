"""The Azure Blob Storage repository: block blobs below a container and prefix.

A put of up to one block is a single Put Blob; a larger one stages the file block by
block (at most MAX_CONCURRENCY blocks in memory) and then commits the block list, which
makes the new content visible at once. A failed put commits nothing, and Azure discards
uncommitted blocks on its own (after a week, or at the next commit to that blob). Block
ids carry a random tag per put, so two puts to one blob never mix blocks. Reads are
pinned to the ETag seen when the read started.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import (
    BlobBlock,
    BlobPrefix,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
)

from trackway.artifacts.repos._common import (
    PART_SIZE,
    READ_CHUNK,
    byte_range,
    chunked,
    dir_key,
    join_key,
    part_size_for,
    require_path,
    source_size,
    staging_folder,
    upload_parts,
)
from trackway.artifacts.repository import FileInfo

MAX_BLOCKS = 50_000
DELETE_BATCH = 256
_CLIENT_OPTIONS: dict[str, Any] = {
    "max_single_get_size": READ_CHUNK,
    "max_chunk_get_size": READ_CHUNK,
}


def make_service(
    account: str | None, host: str | None, connection_string: str | None
) -> BlobServiceClient:
    """A service client: from the connection string when there is one (its account must
    be `account` when that is given), else https://`host` with the key in
    AZURE_STORAGE_ACCESS_KEY, a SAS token in AZURE_STORAGE_SAS_TOKEN, or azure-identity."""
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string, **_CLIENT_OPTIONS)
        if account and service.account_name != account:
            raise ValueError(
                f"the artifact URI names storage account {account!r} but "
                f"AZURE_STORAGE_CONNECTION_STRING is for {service.account_name!r}"
            )
        return service
    if not account:
        raise ValueError("az:// artifact URIs need AZURE_STORAGE_CONNECTION_STRING")
    credential: Any = None
    if key := os.environ.get("AZURE_STORAGE_ACCESS_KEY"):
        credential = {"account_name": account, "account_key": key}
    elif sas := os.environ.get("AZURE_STORAGE_SAS_TOKEN"):
        credential = sas
    else:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError:
            credential = None
        else:
            credential = DefaultAzureCredential()
    url = f"https://{host or account + '.blob.core.windows.net'}"
    return BlobServiceClient(url, credential=credential, **_CLIENT_OPTIONS)


class AzureRepository:
    """Block blobs below `prefix` in a container."""

    def __init__(
        self, container: ContainerClient, prefix: str, uri: str, staging_root: Path | None
    ) -> None:
        self._container = container
        self._prefix = prefix
        self._staging_root = staging_root
        self.uri = uri

    def staging_dir(self) -> Path:
        return staging_folder(self._staging_root)

    def _rel(self, name: str) -> str:
        return name[len(self._prefix) + 1 :] if self._prefix else name

    def _properties(self, path: str) -> Any:
        if not path:
            return None
        try:
            return self._container.get_blob_client(
                join_key(self._prefix, path)
            ).get_blob_properties()
        except ResourceNotFoundError:
            return None

    def sync(self) -> None:
        """Each put is durable once the store acknowledged it."""

    def put(self, source: Path, path: str, content_type: str = "", *, durable: bool = True) -> None:
        require_path(path)
        blob = self._container.get_blob_client(join_key(self._prefix, path))
        size = source_size(source)
        settings = ContentSettings(content_type=content_type or "application/octet-stream")
        block_size = part_size_for(size, MAX_BLOCKS, PART_SIZE)
        if size <= block_size:
            with source.open("rb") as handle:
                body = handle.read(size + 1)
            if len(body) != size:
                raise OSError(f"{source} changed while it was being uploaded")
            blob.upload_blob(body, overwrite=True, content_settings=settings)
            return
        tag = uuid.uuid4().hex

        def stage(index: int, data: bytes) -> str:
            block_id = base64.b64encode(f"{tag}-{index:08d}".encode()).decode()
            blob.stage_block(block_id, data, length=len(data))
            return block_id

        ids = upload_parts(source, size, block_size, stage)
        blob.commit_block_list([BlobBlock(block_id=i) for i in ids], content_settings=settings)

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        props = self._properties(path)
        if props is None:
            raise FileNotFoundError(f"no file at {path!r}")
        start, stop = byte_range(offset, length, int(props.size))
        if start >= stop:
            return iter(())
        blob = self._container.get_blob_client(props.name)
        stream = blob.download_blob(
            offset=start,
            length=stop - start,
            etag=props.etag,
            match_condition=MatchConditions.IfNotModified,
        )
        return chunked(stream.chunks())

    def stat(self, path: str) -> FileInfo | None:
        if not path:
            return FileInfo("", True)
        props = self._properties(path)
        if props is not None:
            return FileInfo(path, False, int(props.size))
        below = self._container.list_blobs(
            name_starts_with=dir_key(self._prefix, path), results_per_page=1
        )
        return FileInfo(path, True) if next(iter(below), None) is not None else None

    def list(self, path: str) -> list[FileInfo]:
        prefix = dir_key(self._prefix, path)
        found: list[FileInfo] = []
        for item in self._container.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
            name: str = item.name
            if isinstance(item, BlobPrefix):
                found.append(FileInfo(self._rel(name.rstrip("/")), True))
            elif name != prefix:  # a "folder marker" blob is not a child
                found.append(FileInfo(self._rel(name), False, int(item.size)))
        return sorted(found, key=lambda info: info.path)

    def delete(self, path: str) -> int:
        require_path(path)
        count = 0
        key = join_key(self._prefix, path)
        try:
            self._container.delete_blob(key, delete_snapshots="include")
            count += 1
        except ResourceNotFoundError:
            pass
        names = [
            b.name for b in self._container.list_blobs(name_starts_with=dir_key(self._prefix, path))
        ]
        for start in range(0, len(names), DELETE_BATCH):
            count += self._delete_batch(names[start : start + DELETE_BATCH])
        return count

    def _delete_batch(self, names: Sequence[str]) -> int:
        count = 0
        for result in self._container.delete_blobs(
            *names, delete_snapshots="include", raise_on_any_failure=False
        ):
            if result.status_code in (200, 202):
                count += 1
            elif result.status_code != 404:
                raise OSError(f"Azure refused to delete a blob: HTTP {result.status_code}")
        return count
