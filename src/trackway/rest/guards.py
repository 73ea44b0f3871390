"""HTTP hardening around the gateway: which Host names it answers to, which other origins
may call it from a browser, and which bodies a state-changing request may carry.

Three browser-borne attacks from MLflow's advisories shape it:

- DNS rebinding: a page on attacker.example re-resolves its own name to 127.0.0.1 and
  then calls this server as if it were its own origin. The browser still sends
  `Host: attacker.example`, so a request is answered only when its Host names this
  server: localhost, the loopback addresses, the address the server is bound to, the
  names given to `--allowed-hosts` (`*.example.com` for subdomains, `*` for any), or an
  IP address literal (a page served from an address literal came from the machine at
  that address, so no rebinding hides behind one). Anything else is 403.
- Cross-origin writes: browsers send `Origin` with every POST, PUT, PATCH and DELETE
  (`null` when they hide it). One that is neither this server's own origin nor listed
  in `--cors-allowed-origins` is refused with 403 before the app sees it. Without that
  flag no `Access-Control-Allow-*` header is ever sent, so other sites can neither read
  answers nor pass a preflight.
- `text/plain` CSRF (CVE-2023-43472): a form, or a `fetch` with a text/plain,
  urlencoded or multipart body, is a "simple request" that browsers send cross-site
  without asking first, and every body on this port is read as JSON whatever its label.
  POST, PATCH and DELETE with those content types are refused with 400 (PUT carries
  raw artifact bytes of any type, and no browser sends it cross-site unasked). A body
  without a Content-Type passes: tools send those, and a browser that does also sends
  an Origin, which the check above judges.

A URL path whose percent-encoding decodes to bytes that are not UTF-8 is refused with
400 too: the ASGI server would turn them into U+FFFD, and the app act on a path other
than the one sent.

Refusals use the door's error shape: a google.rpc.Status below `/v1/`, MLflow's
`{"error_code", "message"}` elsewhere, always as JSON with `nosniff`, since they quote
the header they refuse.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from trackway.config import ServerConfig
from trackway.errors import ERROR_DOMAIN
from trackway.rest import jsonio
from trackway.rest.transcode import PREFIX as NATIVE_PREFIX
from trackway.rest.transcode_errors import status_json

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
Origin = tuple[str, str, int]  # scheme, host name, port

SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_JSON_BODY_METHODS = frozenset({"POST", "PATCH", "DELETE"})
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_PORT = re.compile(r"[0-9]{1,5}")
_PREFLIGHT_MAX_AGE = b"600"
_ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
_EXPOSED_HEADERS = b"content-range, etag, x-request-id"


@dataclass(frozen=True)
class GuardPolicy:
    """Which Host names and which cross-origin callers the HTTP port accepts."""

    hosts: frozenset[str] = _LOCAL_NAMES
    host_suffixes: tuple[str, ...] = ()
    any_host: bool = False
    origins: frozenset[Origin] = frozenset()
    any_origin: bool = False

    @classmethod
    def parse(cls, bound_host: str, allowed_hosts: str, cors_allowed_origins: str) -> GuardPolicy:
        """The policy of a server bound to `bound_host`, from the comma-separated flag
        values; raises ValueError naming an entry that is neither a host nor an origin."""
        hosts = set(_LOCAL_NAMES)
        bound = bound_host.strip("[]").lower()
        if bound not in _WILDCARD_BINDS:
            hosts.add(bound)
        suffixes: list[str] = []
        any_host = False
        for entry in _entries(allowed_hosts):
            if entry == "*":
                any_host = True
            elif entry.startswith("*.") and _NAME.fullmatch(entry[2:].lower()):
                suffixes.append(entry[1:].lower())
            else:
                parsed = _split_host(entry)
                if parsed is None:
                    raise ValueError(f"--allowed-hosts: {entry!r} is not a host name or address")
                hosts.add(parsed[0])
        origins: set[Origin] = set()
        any_origin = False
        for entry in _entries(cors_allowed_origins):
            if entry == "*":
                any_origin = True
                continue
            origin = _parse_origin(entry)
            if origin is None:
                raise ValueError(
                    f"--cors-allowed-origins: {entry!r} is not an origin such as "
                    "https://app.example.com or http://localhost:3000"
                )
            origins.add(origin)
        return cls(frozenset(hosts), tuple(suffixes), any_host, frozenset(origins), any_origin)

    def host_allowed(self, name: str) -> bool:
        if self.any_host or name in self.hosts:
            return True
        if any(name.endswith(suffix) for suffix in self.host_suffixes):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def origin_allowed(self, origin: Origin | None) -> bool:
        """Whether another origin may call (`null` never may, even with `*`)."""
        return origin is not None and (self.any_origin or origin in self.origins)


class HttpGuards:
    """The ASGI middleware that applies a GuardPolicy before the app sees a request."""

    def __init__(self, app: App, policy: GuardPolicy) -> None:
        self._app = app
        self._policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        headers = _headers(scope)
        hosts = headers.get("host", [])
        host = _split_host(hosts[0]) if len(hosts) == 1 else None
        if hosts and (host is None or not self._policy.host_allowed(host[0])):
            shown = hosts[0][:100] if len(hosts) == 1 else f"{len(hosts)} Host headers"
            await _refuse(
                send,
                path,
                403,
                "HOST_NOT_ALLOWED",
                f"this server does not answer to the Host {shown!r}; add the name to "
                "--allowed-hosts (TRACKWAY_ALLOWED_HOSTS) if it is this server's",
            )
            return
        if not _utf8_path(scope):
            # The ASGI server decodes such bytes to U+FFFD, so the app would act on a path
            # other than the one sent (the overlong %c0%af for '/' is the classic).
            await _refuse(
                send,
                path,
                400,
                "MALFORMED_PATH",
                "the URL path percent-encodes bytes that are not UTF-8",
            )
            return
        origin_text = _first(headers, "origin")
        origin = _parse_origin(origin_text) if origin_text is not None else None
        cross = origin_text is not None and (origin is None or not _same_origin(origin, host))
        trusted = cross and self._policy.origin_allowed(origin)
        if method == "OPTIONS" and cross and "access-control-request-method" in headers:
            await self._preflight(send, path, origin_text or "", trusted, headers)
            return
        if cross and not trusted and method not in _SAFE_METHODS:
            await _refuse(
                send,
                path,
                403,
                "ORIGIN_NOT_ALLOWED",
                f"{method} from the origin {(origin_text or '')[:100]!r} is refused: it is not "
                "this server's origin nor one of --cors-allowed-origins",
            )
            return
        media = (_first(headers, "content-type") or "").split(";", 1)[0].strip().lower()
        if method in _JSON_BODY_METHODS and media in SIMPLE_TYPES:
            await _refuse(
                send,
                path,
                400,
                "UNSUPPORTED_CONTENT_TYPE",
                f"{method} bodies must be JSON sent as application/json, not {media}: "
                "browsers send that type cross-site without asking, so it is refused",
            )
            return
        if trusted and origin_text is not None:
            send = _with_cors(send, origin_text)
        await self._app(scope, receive, send)

    async def _preflight(
        self, send: Send, path: str, origin: str, trusted: bool, headers: dict[str, list[str]]
    ) -> None:
        if not trusted:
            await _refuse(
                send,
                path,
                403,
                "ORIGIN_NOT_ALLOWED",
                f"the origin {origin[:100]!r} may not call this server; see --cors-allowed-origins",
            )
            return
        answer = [
            *_cors_headers(origin),
            (b"access-control-allow-methods", _ALLOWED_METHODS),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
            (b"content-length", b"0"),
        ]
        asked = _first(headers, "access-control-request-headers")
        if asked:
            # The origin is trusted with the API; which headers it sends is its business.
            answer.append((b"access-control-allow-headers", asked.encode("latin-1")))
        await send({"type": "http.response.start", "status": 204, "headers": answer})
        await send({"type": "http.response.body", "body": b""})


def protect(app: App, config: ServerConfig) -> HttpGuards:
    """`app` behind the guards that `config`'s host and flags call for."""
    policy = GuardPolicy.parse(config.host, config.allowed_hosts, config.cors_allowed_origins)
    return HttpGuards(app, policy)


def _entries(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _headers(scope: Scope) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in scope.get("headers", ()):
        found.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return found


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _utf8_path(scope: Scope) -> bool:
    raw: bytes | None = scope.get("raw_path")
    try:
        unquote_to_bytes(raw or b"").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header (or an --allowed-hosts entry) as its lowercase name and its port;
    None when it is neither a host name nor an IP address, with an optional port."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return None
    else:
        name, colon, port_text = value.partition(":")
        rest = colon + port_text
        name = name[:-1] if name.endswith(".") else name  # `localhost.` is localhost
        if not _NAME.fullmatch(name):
            return None
    if not rest:
        return name, None
    if rest[0] != ":" or not _PORT.fullmatch(rest[1:]) or int(rest[1:]) > 65535:
        return None
    return name, int(rest[1:])


def _parse_origin(value: str) -> Origin | None:
    """An Origin header (or a --cors-allowed-origins entry) as (scheme, host, port);
    None for `null` and for anything that is not scheme://host[:port]."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _same_origin(origin: Origin, host: tuple[str, int | None] | None) -> bool:
    """Whether the caller's origin is the one the request was sent to (its Host)."""
    if host is None:
        return False
    scheme, name, port = origin
    return name == host[0] and port == (host[1] or _DEFAULT_PORTS[scheme])


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"vary", b"origin"),
    ]


def _with_cors(send: Send, origin: str) -> Send:
    """`send`, adding the CORS answer headers for a trusted origin."""
    added = [*_cors_headers(origin), (b"access-control-expose-headers", _EXPOSED_HEADERS)]

    async def cors_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *added]}
        await send(message)

    return cors_send


async def _refuse(send: Send, path: str, status: int, reason: str, message: str) -> None:
    if path.startswith(NATIVE_PREFIX):
        code = code_pb2.PERMISSION_DENIED if status == 403 else code_pb2.INVALID_ARGUMENT
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
        body = status_json(status_pb2.Status(code=code, message=message, details=[info]))
    else:
        error_code = "PERMISSION_DENIED" if status == 403 else "INVALID_PARAMETER_VALUE"
        body = jsonio.dumps({"error_code": error_code, "message": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
