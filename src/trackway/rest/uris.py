"""Artifact URIs as MLflow clients see them: `mlflow-artifacts:/<path below the root>`.

The server proxies every artifact, so a client must never be handed the root's own URI
(`file:///...`, `s3://...`): it would write there directly, or fail to. Outbound, any URI
below the root becomes `mlflow-artifacts:/<relative path>`; inbound, such a URI (with or
without a `//host` part) becomes the root URI again, and the services check it as they
check any location. Nothing is normalised here: a `..` reaches the service's checks as is.
"""

from __future__ import annotations

PROXY_SCHEME = "mlflow-artifacts:"


class ArtifactUris:
    __slots__ = ("root",)

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def to_client(self, uri: str) -> str:
        if uri.startswith(self.root + "/"):
            return f"{PROXY_SCHEME}/{uri[len(self.root) + 1 :]}"
        if uri == self.root:
            return f"{PROXY_SCHEME}/"
        return uri

    def from_client(self, uri: str) -> str:
        if not uri.startswith(PROXY_SCHEME):
            return uri
        rest = uri[len(PROXY_SCHEME) :]
        if rest.startswith("//"):
            # mlflow-artifacts://host:port/path names this server through another address.
            slash = rest.find("/", 2)
            rest = rest[slash:] if slash >= 0 else ""
        rest = rest.lstrip("/")
        return f"{self.root}/{rest}" if rest else self.root

    def relative(self, uri: str) -> str | None:
        """The path of `uri` below the root, or None when it is not below it."""
        if uri.startswith(self.root + "/"):
            return uri[len(self.root) + 1 :].rstrip("/")
        return None
