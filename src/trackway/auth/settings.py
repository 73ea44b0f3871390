"""The server's security flags, checked together before anything binds.

- `--auth none|token|mtls` (TRACKWAY_AUTH): none by default. With none, a server on a
  non-loopback address refuses to start unless `--insecure-allow-remote` says that
  someone else (a mesh, a firewall) guards it.
- `--tls-cert` / `--tls-key`: PEM files; both ports then speak TLS.
- `--tls-client-ca`: PEM CA bundle; both ports then require client certificates signed
  by it. `--auth mtls` needs it and maps the certificate's subject CN to a user.
- `--bootstrap-admin-token-file`: see `trackway.auth.bootstrap`.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NONE = "none"
TOKEN = "token"
MTLS = "mtls"
MODES = (NONE, TOKEN, MTLS)


@dataclass(frozen=True)
class SecuritySettings:
    auth: str = NONE
    insecure_allow_remote: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    bootstrap_admin_token_file: str = ""

    @classmethod
    def of(cls, config: Any) -> SecuritySettings:
        """The settings among a ServerConfig's fields."""
        return cls(**{name: getattr(config, name) for name in cls.__dataclass_fields__})

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    @property
    def enabled(self) -> bool:
        return self.auth != NONE

    def check(self, host: str, *, relay: bool = False) -> None:
        """Raises ValueError, with a one-line reason, for settings that do not go
        together or that would expose an unauthenticated server. A relay (`--forward-to`)
        authenticates no one: it must stay on loopback with `--auth none`, and forwards
        with its own TRACKWAY_TOKEN."""
        if self.auth not in MODES:
            raise ValueError(f"--auth must be one of {', '.join(MODES)}, not {self.auth!r}")
        if relay and (self.enabled or self.tls):
            raise ValueError(
                "a relay (--forward-to) authenticates no one: run it with --auth none on "
                "loopback beside its job; it forwards with TRACKWAY_TOKEN and TRACKWAY_TLS_*"
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together: give both, or neither")
        if self.tls_client_ca and not self.tls:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        if self.auth == MTLS and not self.tls_client_ca:
            raise ValueError("--auth mtls needs --tls-cert, --tls-key and --tls-client-ca")
        for flag, path in (
            ("--tls-cert", self.tls_cert),
            ("--tls-key", self.tls_key),
            ("--tls-client-ca", self.tls_client_ca),
        ):
            if path and not Path(path).is_file():
                raise ValueError(f"{flag} {path}: no such file")
        if self.bootstrap_admin_token_file and not self.enabled:
            raise ValueError("--bootstrap-admin-token-file needs --auth token or mtls")
        if not self.enabled and not loopback(host) and not self.insecure_allow_remote:
            raise ValueError(
                f"refusing to serve on {host or 'every address'} without authentication: "
                "use --auth token (or mtls), or --insecure-allow-remote if something else "
                "guards this port"
            )
        if self.enabled and not self.tls and not loopback(host):
            log.warning(
                "--auth %s without TLS on %s: tokens cross the network in clear; give "
                "--tls-cert and --tls-key unless a proxy or mesh encrypts the traffic",
                self.auth,
                host or "every address",
            )


def loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or `localhost`)."""
    text = host.strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def add_server_flags(
    parser: argparse.ArgumentParser,
    flag: Callable[[argparse.ArgumentParser, str, Any, str], None],
    defaults: Any,
) -> None:
    """The security flags of `trackway server`; `flag` is the CLI's helper for flags
    with a TRACKWAY_* variable."""
    flag(parser, "--auth", defaults.auth, "none, token (bearer tokens) or mtls (client certs)")
    parser.add_argument(
        "--insecure-allow-remote",
        action="store_true",
        default=_switch("TRACKWAY_INSECURE_ALLOW_REMOTE"),
        help="with --auth none, serve on a non-loopback --host anyway, for when something "
        "else guards the port (env TRACKWAY_INSECURE_ALLOW_REMOTE=1)",
    )
    flag(parser, "--tls-cert", defaults.tls_cert, "PEM certificate chain: TLS on both ports")
    flag(parser, "--tls-key", defaults.tls_key, "PEM private key of --tls-cert")
    flag(
        parser,
        "--tls-client-ca",
        defaults.tls_client_ca,
        "PEM CA bundle: both ports require client certificates it signed",
    )
    flag(
        parser,
        "--bootstrap-admin-token-file",
        defaults.bootstrap_admin_token_file,
        "the first admin's token: registered for user 'admin' when the file exists, "
        "else created and written there when the server has no admin",
    )


def _switch(env: str) -> bool:
    """A boolean flag's default from its TRACKWAY_* variable (1, true, yes or on)."""
    return os.environ.get(env, "").strip().lower() in ("1", "true", "yes", "on")
