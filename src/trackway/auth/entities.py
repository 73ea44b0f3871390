"""Users, roles, tokens and permission levels, as the domain sees them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

ADMIN = "admin"
USER = "user"
ROLES = (ADMIN, USER)


class Permission(enum.IntEnum):
    """A level of access; each includes the ones below it."""

    NONE = 0
    READ = 1
    EDIT = 2
    MANAGE = 3

    @classmethod
    def parse(cls, name: str) -> Permission:
        """READ, EDIT or MANAGE (any case); anything else is a ValueError."""
        level = cls.__members__.get(name.upper())
        if level is None or level is cls.NONE:
            raise ValueError(f"{name!r} is not one of READ, EDIT, MANAGE")
        return level


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    name: str
    role: str
    creation_time: int

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


@dataclass(frozen=True, slots=True)
class Token:
    """A token without its secret; None times mean never expires / not revoked."""

    token_id: str
    user_name: str
    description: str
    creation_time: int
    expire_time: int | None
    revoked_time: int | None


@dataclass(frozen=True, slots=True)
class Grant:
    """A user's permission on one resource: an experiment id or a model's name."""

    resource: str
    user_name: str
    permission: Permission


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a call is from, once authenticated."""

    user_id: int
    name: str
    admin: bool

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.user_id, user.name, user.is_admin)
