"""The AdminService's rules: users, tokens and permissions, checked and stored.

Who may call what is the rule table's business (`trackway.auth.rules`); this module
checks the input, applies the invariants (a server keeps at least one admin; a user
holds at most MAX_LIVE_TOKENS live tokens) and makes one store call. A change drops
this server's credential and permission caches at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from trackway.auth import tokens
from trackway.auth.context import current
from trackway.auth.entities import ROLES, USER, Grant, Permission, Token, User
from trackway.errors import FailedPrecondition, invalid
from trackway.registry import validation as registry_check
from trackway.search.page_token import decode_page_token, encode_page_token, query_fingerprint
from trackway.store.auth_store import SqlAuthStore
from trackway.store.writes import now_ms
from trackway.tracking import validation as check
from trackway.tracking.entities import Page

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MAX_DESCRIPTION = 250
MAX_TTL_SECONDS = 10 * 366 * 24 * 3600
MAX_LIVE_TOKENS = 100
DEFAULT_PAGE = 100
MAX_PAGE = 1000


def check_user_name(field: str, name: str) -> str:
    if not name:
        raise invalid(field, "is required")
    if not USER_NAME.fullmatch(name):
        raise invalid(
            field,
            f"{name[:80]!r} is not a user name: 1 to 64 ASCII letters, digits, '_', '-', "
            "'.' and '@', starting with a letter or a digit",
        )
    return name


class AdminService:
    def __init__(self, store: SqlAuthStore, on_change: Callable[[], None] = lambda: None) -> None:
        """`on_change` runs after every change, to drop cached credentials and levels."""
        self.store = store
        self._changed = on_change

    # Users

    def current_user(self) -> User:
        caller = current()
        if caller is None:
            raise FailedPrecondition("authentication is off (--auth none): calls have no user")
        return self.store.get_user(caller.name)

    def create_user(self, name: str, role: str = USER) -> User:
        check_user_name("name", name)
        _check_role(role)
        return self.store.create_user(name, role)

    def get_user(self, name: str) -> User:
        return self.store.get_user(check_user_name("name", name))

    def list_users(self, page_size: int = 0, page_token: str = "") -> Page[User]:
        size = _page_size(page_size)
        fingerprint = query_fingerprint("ListUsers")
        after = decode_page_token(page_token, fingerprint)[0] if page_token else ""
        if not isinstance(after, str):
            raise invalid("page_token", "is not a valid page token")
        found = self.store.list_users(size + 1, after)
        more = len(found) > size
        found = found[:size]
        token = encode_page_token(fingerprint, [found[-1].name]) if more else ""
        return Page(found, token)

    def update_user(self, name: str, role: str) -> User:
        check_user_name("name", name)
        _check_role(role)
        updated = self.store.set_role(name, role)
        self._changed()
        return updated

    def delete_user(self, name: str) -> None:
        self.store.delete_user(check_user_name("name", name))
        self._changed()

    # Tokens

    def create_token(
        self, user_name: str, description: str = "", ttl_seconds: int = 0
    ) -> tuple[Token, str]:
        """A new token and its secret, which is shown this once."""
        user_name = _self_or(user_name, "user_name")
        check.text("description", description, MAX_DESCRIPTION)
        if not 0 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise invalid("ttl_seconds", f"{ttl_seconds} is not between 0 and {MAX_TTL_SECONDS}")
        secret = tokens.new_secret()
        expire = now_ms() + ttl_seconds * 1000 if ttl_seconds else None
        token = self.store.create_token(
            user_name,
            tokens.new_token_id(),
            tokens.hash_secret(secret),
            description,
            expire,
            MAX_LIVE_TOKENS,
        )
        return token, secret

    def list_tokens(self, user_name: str, page_size: int = 0, page_token: str = "") -> Page[Token]:
        user_name = _self_or(user_name, "user_name")
        size = _page_size(page_size)
        fingerprint = query_fingerprint("ListTokens", user_name)
        after: tuple[int, str] | None = None
        if page_token:
            values = decode_page_token(page_token, fingerprint)
            if len(values) != 2 or not isinstance(values[0], int) or not isinstance(values[1], str):
                raise invalid("page_token", "is not a valid page token")
            after = (values[0], values[1])
        found = self.store.list_tokens(user_name, size + 1, after)
        more = len(found) > size
        found = found[:size]
        last = found[-1] if found else None
        token = (
            encode_page_token(fingerprint, [last.creation_time, last.token_id])
            if more and last
            else ""
        )
        return Page(found, token)

    def revoke_token(self, token_id: str) -> Token:
        # A NUL would reach PostgreSQL, which refuses it as a server error.
        check.text("token_id", token_id, 64, required=True)
        revoked = self.store.revoke_token(token_id)
        self._changed()
        return revoked

    # Permissions

    def grant_experiment(self, experiment_id: str, user_name: str, level: Permission) -> Grant:
        eid = check.experiment_id("experiment_id", experiment_id)
        check_user_name("user_name", user_name)
        _check_level(level)
        self.store.grant_experiment(eid, user_name, level)
        self._changed()
        return Grant(str(eid), user_name, level)

    def revoke_experiment(self, experiment_id: str, user_name: str) -> None:
        eid = check.experiment_id("experiment_id", experiment_id)
        self.store.revoke_experiment(eid, check_user_name("user_name", user_name))
        self._changed()

    def list_experiment(
        self, experiment_id: str, page_size: int = 0, page_token: str = ""
    ) -> Page[Grant]:
        eid = check.experiment_id("experiment_id", experiment_id)
        return self._page(
            ("ListExperimentPermissions", eid),
            page_size,
            page_token,
            lambda n, after: self.store.experiment_grants(eid, n, after),
        )

    def grant_model(self, name: str, user_name: str, level: Permission) -> Grant:
        name = registry_check.model_name("name", name)
        check_user_name("user_name", user_name)
        _check_level(level)
        self.store.grant_model(name, user_name, level)
        self._changed()
        return Grant(name, user_name, level)

    def revoke_model(self, name: str, user_name: str) -> None:
        name = registry_check.model_name("name", name)
        self.store.revoke_model(name, check_user_name("user_name", user_name))
        self._changed()

    def list_model(self, name: str, page_size: int = 0, page_token: str = "") -> Page[Grant]:
        name = registry_check.model_name("name", name)
        return self._page(
            ("ListRegisteredModelPermissions", name),
            page_size,
            page_token,
            lambda n, after: self.store.model_grants(name, n, after),
        )

    def _page(
        self,
        query: tuple[str, int | str],
        page_size: int,
        page_token: str,
        read: Callable[[int, str], list[Grant]],
    ) -> Page[Grant]:
        size = _page_size(page_size)
        fingerprint = query_fingerprint(*query)
        after = decode_page_token(page_token, fingerprint)[0] if page_token else ""
        if not isinstance(after, str):
            raise invalid("page_token", "is not a valid page token")
        found = read(size + 1, after)
        more = len(found) > size
        found = found[:size]
        return Page(found, encode_page_token(fingerprint, [found[-1].user_name]) if more else "")


def _self_or(user_name: str, field: str) -> str:
    """The user named, or the caller when the name is empty."""
    if user_name:
        return check_user_name(field, user_name)
    caller = current()
    if caller is None:
        raise invalid(field, "is required when authentication is off (--auth none)")
    return caller.name


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise invalid("role", f"{role!r} is not one of {', '.join(ROLES)}")


def _check_level(level: Permission) -> None:
    if level is Permission.NONE:
        raise invalid("permission", "must be READ, EDIT or MANAGE")


def _page_size(page_size: int) -> int:
    return check.page_size("page_size", page_size, DEFAULT_PAGE, MAX_PAGE)
