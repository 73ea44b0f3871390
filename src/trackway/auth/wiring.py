"""What security adds to a server, built from its config: `create_server()` asks this
object for its interceptors, services, ports and HTTP wrapper.

With `--auth none` it adds nothing but the AdminService (so users and tokens can be
prepared before authentication is turned on) and TLS when configured. Otherwise it
also adds the gRPC interceptor, the HTTP gate, and the services that filter searches
and grant creators MANAGE.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import grpc

from trackway.auth import admin_servicer, bootstrap, tls
from trackway.auth.access import Authorizer
from trackway.auth.admin import AdminService
from trackway.auth.authenticator import Authenticator
from trackway.auth.http_gate import HttpGate
from trackway.auth.interceptor import AuthInterceptor
from trackway.auth.resources import Resolver
from trackway.auth.settings import SecuritySettings
from trackway.auth.visibility import Visibility, VisibleRegistryService, VisibleTrackingService
from trackway.registry.service import RegistryService
from trackway.rest.artifact_proxy import Locator
from trackway.rest.server import TlsFiles
from trackway.rest.uris import ArtifactUris
from trackway.store.auth_store import SqlAuthStore
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.logged_models import LoggedModelService
from trackway.tracking.service import TrackingService


class Security:
    def __init__(self, settings: SecuritySettings, tracking: SqlTrackingStore) -> None:
        self.settings = settings
        self.store = SqlAuthStore.from_tracking(tracking)
        self.authenticator: Authenticator | None = None
        self.authorizer: Authorizer | None = None
        self.visibility: Visibility | None = None
        if settings.enabled:
            locator = Locator(TrackingService(tracking), ArtifactUris(tracking.artifact_root))

            def locate(path: str) -> tuple[str, str]:
                found, _ = locator.locate(path)
                return found.run_id, found.experiment_id

            resolver = Resolver(self.store, tracking.artifact_root, locate)
            self.authenticator = Authenticator(self.store, settings.auth)
            self.authorizer = Authorizer(self.store, resolver)
            self.visibility = Visibility(self.store, self.authorizer)
        self.admin = AdminService(self.store, self._forget)
        self._socket_dir = ""

    @classmethod
    def start(cls, config: Any, tracking: SqlTrackingStore) -> Security:
        """Checks the config's security flags (ValueError with one line when they are
        wrong), and creates the first admin when asked to."""
        settings = SecuritySettings.of(config)
        settings.check(config.host)
        security = cls(settings, tracking)
        if settings.bootstrap_admin_token_file:
            bootstrap.ensure_admin(security.store, settings.bootstrap_admin_token_file)
        return security

    def _forget(self) -> None:
        if self.authenticator is not None:
            self.authenticator.forget()
        if self.authorizer is not None:
            self.authorizer.forget()

    # gRPC

    def interceptors(self) -> list[grpc.ServerInterceptor]:
        """To go after the ErrorInterceptor, which then reports their refusals."""
        if self.authenticator is None or self.authorizer is None:
            return []
        return [AuthInterceptor(self.authenticator, self.authorizer)]

    def tracking_service(self, store: SqlTrackingStore) -> TrackingService:
        if self.visibility is None:
            return TrackingService(store)
        return VisibleTrackingService(store, self.visibility)

    def registry_service(
        self,
        store: SqlRegistryStore,
        tracking: SqlTrackingStore,
        logged_models: LoggedModelService,
    ) -> RegistryService:
        if self.visibility is None:
            return RegistryService(store, tracking, logged_models)
        return VisibleRegistryService(store, tracking, logged_models, self.visibility)

    def register(self, server: grpc.Server) -> str:
        return admin_servicer.register(server, self.admin)

    def bind(self, server: grpc.Server, address: str) -> int:
        """Opens the gRPC port, with TLS when configured; returns the bound port."""
        if self.settings.tls:
            return server.add_secure_port(address, tls.server_credentials(self.settings))
        return server.add_insecure_port(address)

    def internal_target(self, server: grpc.Server) -> str:
        """Where the HTTP/JSON transcoder reaches the servicers when the gRPC port wants
        TLS (and maybe a client certificate) that its loopback channel cannot give: a
        plaintext Unix socket in a folder only this user can enter. Every call on it is
        authenticated like any other (tokens, or the gate's word). "" without TLS."""
        if not self.settings.tls:
            return ""
        self._socket_dir = tempfile.mkdtemp(prefix="trackway-grpc-")
        path = Path(self._socket_dir) / "grpc.sock"
        server.add_insecure_port(f"unix:{path}")
        return f"unix:{path}"

    # HTTP

    def http(self, app: Any, *, max_body_bytes: int, threads: int) -> Any:
        """The HTTP app behind the gate (the app itself with --auth none)."""
        if self.authenticator is None or self.authorizer is None:
            return app
        return HttpGate(
            app,
            self.authenticator,
            self.authorizer,
            max_body_bytes=max_body_bytes,
            threads=threads,
        )

    def http_tls(self) -> TlsFiles | None:
        if not self.settings.tls:
            return None
        return TlsFiles(self.settings.tls_cert, self.settings.tls_key, self.settings.tls_client_ca)

    def close(self) -> None:
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = ""
