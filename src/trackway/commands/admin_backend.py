"""Where the users, tokens and permissions commands send their calls: the server's
AdminService, or the database itself with `--backend-store-uri`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trackway.commands.common import CLI_RETRY_SECONDS

if TYPE_CHECKING:
    from trackway.auth.entities import Token, User


def direct_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend-store-uri",
        default="",
        help="work on this database directly, without a server or a token (for the "
        "first admin of a fresh install); default: ask the server at --tracking-uri",
    )


@contextmanager
def admin_for(args: argparse.Namespace) -> Iterator[Any]:
    """The server's AdminService, or the database itself with --backend-store-uri;
    both have AdminClient's methods."""
    url = getattr(args, "backend_store_uri", "")
    if url:
        direct = _Direct(url)
        try:
            yield direct
        finally:
            direct.close()
        return
    from trackway.client.admin import AdminClient

    client = AdminClient(args.tracking_uri, retry_seconds=CLI_RETRY_SECONDS)
    try:
        yield client
    finally:
        client.close()


class _Direct:
    """AdminClient's user and token methods, on the database."""

    def __init__(self, url: str) -> None:
        from trackway.auth.admin import AdminService
        from trackway.store.auth_store import SqlAuthStore

        self._store = SqlAuthStore.open(url)
        self._service = AdminService(self._store)

    def close(self) -> None:
        self._store.close()

    def current_user(self) -> User:
        raise ValueError("--backend-store-uri works without a user; ask the server instead")

    def create_user(self, name: str, *, admin: bool = False) -> User:
        return self._service.create_user(name, "admin" if admin else "user")

    def list_users(self) -> list[User]:
        found: list[User] = []
        token = ""
        while True:
            page = self._service.list_users(1000, token)
            found.extend(page.items)
            token = page.next_page_token
            if not token:
                return found

    def set_role(self, name: str, *, admin: bool) -> User:
        return self._service.update_user(name, "admin" if admin else "user")

    def delete_user(self, name: str) -> None:
        self._service.delete_user(name)

    def create_token(
        self, user_name: str = "", description: str = "", ttl_seconds: int = 0
    ) -> tuple[Token, str]:
        if not user_name:
            raise ValueError("--user is required with --backend-store-uri")
        return self._service.create_token(user_name, description, ttl_seconds)

    def list_tokens(self, user_name: str = "") -> list[Token]:
        if not user_name:
            raise ValueError("--user is required with --backend-store-uri")
        found: list[Token] = []
        token = ""
        while True:
            page = self._service.list_tokens(user_name, 1000, token)
            found.extend(page.items)
            token = page.next_page_token
            if not token:
                return found

    def revoke_token(self, token_id: str) -> Token:
        return self._service.revoke_token(token_id)
