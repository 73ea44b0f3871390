"""Artifact repositories for each storage backend, chosen by the root URI's scheme.

- `file:///abs/path` or `/abs/path`: the local disk (local.py)
- `s3://bucket/prefix`: S3 and S3-compatible stores (s3.py; extra `s3`)
- `gs://bucket/prefix`: Google Cloud Storage (gcs.py; extra `gcs`)
- `wasbs://container@account.blob.core.windows.net/prefix`: Azure Blob Storage
  (azure.py; extra `azure`)
- `az://container/prefix`: Azure, with the account taken from the connection string

Each backend's SDK is imported only when a URI of its scheme is opened.

Environment: `TRACKWAY_S3_ENDPOINT_URL`, then `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`
(an S3-compatible endpoint); `TRACKWAY_S3_CHECKSUMS` (`when_supported`, the default, or
`when_required` for stores that reject the newer default checksums);
`AZURE_STORAGE_CONNECTION_STRING`; `STORAGE_EMULATOR_HOST` (a GCS emulator). The SDKs
read their own credentials as usual.

URIs with a query or a fragment, or whose path has empty, `.` or `..` segments, are
refused: a root must mean exactly what it says (see the `#`/`?` traversal CVEs in
reliability-security.md §1.B).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trackway.artifacts.repos._common import split_prefix
from trackway.artifacts.repository import ArtifactRepository

SCHEMES = ("file", "s3", "gs", "wasbs", "az")
CHECKSUM_MODES = ("when_supported", "when_required")
_AZURE_HOST = ".blob.core."


def open_repository(
    uri: str,
    *,
    s3_endpoint_url: str | None = None,
    s3_checksums: str | None = None,
    staging_root: Path | None = None,
) -> ArtifactRepository:
    """The repository for the artifact root `uri`.

    `s3_endpoint_url` and `s3_checksums` default to the environment (see the module
    docstring). `staging_root` is the local spool folder of the object-store backends
    (default: `<tempdir>/trackway-staging`); the local backend always spools inside its
    root. Raises ValueError for a malformed URI or an unknown scheme.
    """
    if uri.startswith("/"):
        return _local(Path(uri))
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"{scheme!r}" if scheme else "none"
        raise ValueError(
            f"artifact root {uri!r} has scheme {shown}; expected an absolute path or one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        raise ValueError(f"artifact root {uri!r} must not have a query or a fragment")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file URI {uri!r} names host {parts.netloc!r}; use file:///path")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError(f"file URI {uri!r} must hold an absolute path")
        return _local(Path(path))
    prefix = split_prefix(parts.path)
    if scheme == "s3":
        return _s3(_bucket(uri, parts.netloc), prefix, s3_endpoint_url, s3_checksums, staging_root)
    if scheme == "gs":
        from trackway.artifacts.repos.gcs import GCSRepository, make_client

        return GCSRepository(_bucket(uri, parts.netloc), prefix, make_client(), staging_root)
    return _azure(uri, scheme, parts.netloc, prefix, staging_root)


def _bucket(uri: str, netloc: str) -> str:
    if not netloc or "@" in netloc or ":" in netloc:
        raise ValueError(f"artifact root {uri!r} must name a bucket: scheme://bucket/prefix")
    return netloc


def _local(path: Path) -> ArtifactRepository:
    from trackway.artifacts.repos.local import LocalRepository

    if any(seg in (".", "..") for seg in path.parts):
        raise ValueError(f"local artifact root {path} must not contain '.' or '..'")
    return LocalRepository(path)


def _s3(
    bucket: str,
    prefix: str,
    endpoint_url: str | None,
    checksums: str | None,
    staging_root: Path | None,
) -> ArtifactRepository:
    from trackway.artifacts.repos.s3 import S3Repository, make_client

    endpoint = (
        endpoint_url
        or os.environ.get("TRACKWAY_S3_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )
    mode = checksums or os.environ.get("TRACKWAY_S3_CHECKSUMS") or "when_supported"
    if mode not in CHECKSUM_MODES:
        raise ValueError(f"S3 checksum mode {mode!r}: expected one of {', '.join(CHECKSUM_MODES)}")
    return S3Repository(bucket, prefix, make_client(endpoint, mode), staging_root, mode)


def _azure(
    uri: str, scheme: str, netloc: str, prefix: str, staging_root: Path | None
) -> ArtifactRepository:
    from trackway.artifacts.repos.azure import AzureRepository, make_service

    account: str | None = None
    host: str | None = None
    if scheme == "wasbs":
        container, _, host = netloc.partition("@")
        if not container or _AZURE_HOST not in host:
            raise ValueError(
                f"artifact root {uri!r} must look like "
                "wasbs://container@account.blob.core.windows.net/prefix"
            )
        account = host.split(".", 1)[0]
    else:
        container = _bucket(uri, netloc)
    service = make_service(account, host, os.environ.get("AZURE_STORAGE_CONNECTION_STRING"))
    client = service.get_container_client(container)
    return AzureRepository(client, prefix, uri.rstrip("/"), staging_root)
