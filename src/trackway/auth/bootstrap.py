"""The first admin of a fresh install.

Two ways, for the two ways servers are run:

- By hand: `trackway users create NAME --admin --backend-store-uri URL` works on the
  database directly, without a server or a token, and `trackway tokens create --user
  NAME --backend-store-uri URL` prints the admin's first token.
- Deployed (Kubernetes): `trackway server --bootstrap-admin-token-file FILE`. When
  FILE exists, its content (one token secret, e.g. from a Secret) becomes a token of
  the user `admin`, who is created as an admin if missing; a token already known is
  left alone, so restarts, replicas and workers change nothing. When FILE does not
  exist and no admin exists yet, the server makes a token, writes it to FILE (mode
  0600) and logs where it is, never the token itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from trackway.auth import tokens
from trackway.auth.admin import MAX_LIVE_TOKENS
from trackway.auth.entities import ADMIN
from trackway.errors import Aborted, AlreadyExists
from trackway.store.auth_store import SqlAuthStore

log = logging.getLogger(__name__)

BOOTSTRAP_USER = "admin"


def ensure_admin(store: SqlAuthStore, token_file: str) -> None:
    path = Path(token_file)
    if not path.exists():
        if store.count_admins():
            return
        _write_new_token(path)
    secret = path.read_text().strip()
    if not secret or len(secret) > tokens.MAX_SECRET_CHARS or " " in secret:
        raise ValueError(f"--bootstrap-admin-token-file {path}: expected one token")
    digest = tokens.hash_secret(secret)
    if store.known_token_hash(digest):
        return
    _admin_user(store)
    try:
        store.create_token(
            BOOTSTRAP_USER, tokens.new_token_id(), digest, "bootstrap", None, MAX_LIVE_TOKENS
        )
    except Aborted:  # another replica or worker stored the same token just now
        if not store.known_token_hash(digest):
            raise
    log.warning(
        "bootstrap: the token in %s authenticates admin user %r (the file is readable by "
        "this user only; the token is never logged)",
        path,
        BOOTSTRAP_USER,
    )


def _write_new_token(path: Path) -> None:
    """Writes a new secret to `path`, unless another process (a `--workers` sibling)
    does so first: the file appears whole, through a hard link, or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(tokens.new_secret() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(staged, path)
    except FileExistsError:
        pass  # a sibling won; its token is the one
    finally:
        staged.unlink()


def _admin_user(store: SqlAuthStore) -> None:
    found = store.find_user(BOOTSTRAP_USER)
    if found is None:
        with contextlib.suppress(AlreadyExists, Aborted):  # another replica did, just now
            store.create_user(BOOTSTRAP_USER, ADMIN)
    elif not found.is_admin:
        raise ValueError(
            f"bootstrap: user {BOOTSTRAP_USER!r} exists and is not an admin; make it one "
            "or remove it"
        )
