"""API token secrets: made here, shown once, stored only as a hash.

A secret is `tw_` and 256 random bits in URL-safe base64. With that much entropy a
plain SHA-256 is the right store: it cannot be brute-forced, and it is a fast indexed
lookup per call (a slow password hash would cost every RPC tens of milliseconds).
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_PREFIX = "tw_"
TOKEN_ID_PREFIX = "tok_"
# Longer values are never a token of ours: refused before hashing.
MAX_SECRET_CHARS = 512


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return TOKEN_ID_PREFIX + secrets.token_hex(8)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def bearer(value: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (the scheme in any case),
    or None when the value is not of that form."""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_SECRET_CHARS:
        return None
    if not token.isascii() or not token.isprintable() or " " in token:
        return None
    return token
