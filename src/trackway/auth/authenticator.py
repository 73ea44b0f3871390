"""Credentials to users: bearer tokens, client certificates, and the gateway's word.

- `--auth token`: `authorization: Bearer <secret>`; the secret's SHA-256 is looked up
  among live tokens (neither revoked nor expired).
- `--auth mtls`: the TLS layer has verified the client certificate against the client
  CA; its subject CN is the user's name, and that user must exist.
- Either mode: the HTTP gate, having authenticated a request itself, calls the gRPC
  servicers for `/v1/` routes over a loopback channel that carries no certificate. It
  vouches for the caller with `authorization: Trackway-Gateway <user>:<mac>`, a MAC
  under a key that is random per process and never leaves its memory, so no client
  can forge one; anything else in that scheme is refused.

Answers are cached for CACHE_SECONDS (refusals for a second), so a stream of calls
with one token costs one lookup; `forget()` drops the cache when this server revokes a
token or deletes a user.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from trackway.auth import errors, tokens
from trackway.auth.entities import Principal, User
from trackway.auth.settings import MODES, MTLS, NONE, TOKEN
from trackway.store.auth_store import SqlAuthStore
from trackway.store.writes import now_ms

__all__ = ["MODES", "MTLS", "NONE", "TOKEN", "Authenticator"]

CACHE_SECONDS = 5.0
REFUSAL_CACHE_SECONDS = 1.0
GATEWAY_SCHEME = "trackway-gateway"
_CACHE_LIMIT = 100_000


class Authenticator:
    def __init__(self, store: SqlAuthStore, mode: str, ttl: float = CACHE_SECONDS) -> None:
        if mode not in (TOKEN, MTLS):
            raise ValueError(f"no authenticator for --auth {mode}")
        self.mode = mode
        self._store = store
        self._ttl = ttl
        self._key = secrets.token_bytes(32)
        self._seen: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str, certificate_name: str) -> Principal:
        """The caller of a request, from its `authorization` value ("" when absent) and
        its verified client certificate's CN ("" when none); raises Unauthenticated."""
        scheme = authorization.strip().partition(" ")[0].lower()
        if scheme == GATEWAY_SCHEME:
            return self._from_gateway(authorization)
        if self.mode == MTLS:
            if not certificate_name:
                raise errors.Unauthenticated(
                    "this server requires a client certificate (--auth mtls), signed by "
                    "its client CA, whose subject CN names a user"
                )
            return self._cached(
                "cn:" + certificate_name, lambda: _forever(self._store.find_user(certificate_name))
            )
        if not authorization:
            raise errors.missing_credentials()
        secret = tokens.bearer(authorization)
        if secret is None:
            raise errors.Unauthenticated(
                "the authorization value must be `Bearer <token>`", metadata={"scheme": scheme}
            )
        digest = tokens.hash_secret(secret)
        return self._cached("tok:" + digest, lambda: self._store.user_of_token(digest, now_ms()))

    def _cached(self, key: str, load: Callable[[], tuple[User, int | None] | None]) -> Principal:
        now = time.monotonic()
        hit = self._seen.get(key)
        if hit is not None and hit[1] > now:
            found = hit[0]
        else:
            loaded = load()
            found = None if loaded is None else Principal.of(loaded[0])
            ttl = self._ttl if found is not None else REFUSAL_CACHE_SECONDS
            if loaded is not None and loaded[1] is not None:
                # An expiring token is cached no longer than it lives.
                ttl = min(ttl, max(0.0, (loaded[1] - now_ms()) / 1000))
            with self._lock:
                if len(self._seen) >= _CACHE_LIMIT:
                    self._seen.clear()
                self._seen[key] = (found, now + ttl)
        if found is None:
            if key.startswith("cn:"):
                raise errors.Unauthenticated(
                    f"the client certificate names {key[3:][:64]!r}, which is no user here"
                )
            raise errors.bad_credentials()
        return found

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()

    # The gateway's word for a caller it authenticated

    def vouch(self, caller: Principal) -> str:
        """The `authorization` value with which the HTTP gate passes `caller` on to
        this process's gRPC servicers."""
        payload = f"{caller.user_id}:{caller.name}:{int(caller.admin)}"
        return f"Trackway-Gateway {payload}:{self._mac(payload)}"

    def _from_gateway(self, authorization: str) -> Principal:
        value = authorization.strip().partition(" ")[2].strip()
        payload, _, mac = value.rpartition(":")
        if not payload or not mac.isascii() or not hmac.compare_digest(mac, self._mac(payload)):
            raise errors.bad_credentials()
        user_id, name, admin = payload.split(":", 2)
        return Principal(int(user_id), name, admin == "1")

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()


def _forever(user: User | None) -> tuple[User, int | None] | None:
    """A certificate's user, with no expiry of its own (the TLS layer checked the
    certificate's validity)."""
    return None if user is None else (user, None)
