"""AdminService protos to domain values and back."""

from __future__ import annotations

from trackway.auth.entities import ADMIN, USER, Grant, Permission, Token, User
from trackway.errors import invalid
from trackway.gen.admin.v1 import permission_pb2, token_pb2, user_pb2

_ROLES: dict[int, str] = {user_pb2.ROLE_USER: USER, user_pb2.ROLE_ADMIN: ADMIN}
_ROLE_PROTOS: dict[str, user_pb2.Role] = {
    USER: user_pb2.ROLE_USER,
    ADMIN: user_pb2.ROLE_ADMIN,
}
_LEVELS: dict[int, Permission] = {
    permission_pb2.PERMISSION_READ: Permission.READ,
    permission_pb2.PERMISSION_EDIT: Permission.EDIT,
    permission_pb2.PERMISSION_MANAGE: Permission.MANAGE,
}
_LEVEL_PROTOS: dict[Permission, permission_pb2.Permission] = {
    Permission.READ: permission_pb2.PERMISSION_READ,
    Permission.EDIT: permission_pb2.PERMISSION_EDIT,
    Permission.MANAGE: permission_pb2.PERMISSION_MANAGE,
}


def role(number: int, *, default: str = "") -> str:
    if number == user_pb2.ROLE_UNSPECIFIED and default:
        return default
    found = _ROLES.get(number)
    if found is None:
        raise invalid("role", "must be ROLE_USER or ROLE_ADMIN")
    return found


def level(number: int) -> Permission:
    found = _LEVELS.get(number)
    if found is None:
        raise invalid("permission", "must be PERMISSION_READ, PERMISSION_EDIT or PERMISSION_MANAGE")
    return found


def user_to_proto(user: User) -> user_pb2.User:
    return user_pb2.User(
        name=user.name, role=_ROLE_PROTOS[user.role], creation_time=user.creation_time
    )


def token_to_proto(token: Token) -> token_pb2.Token:
    return token_pb2.Token(
        token_id=token.token_id,
        user_name=token.user_name,
        description=token.description,
        creation_time=token.creation_time,
        expire_time=token.expire_time or 0,
        revoked_time=token.revoked_time or 0,
    )


def experiment_grant(grant: Grant) -> permission_pb2.ExperimentPermission:
    return permission_pb2.ExperimentPermission(
        experiment_id=grant.resource,
        user_name=grant.user_name,
        permission=_LEVEL_PROTOS[grant.permission],
    )


def model_grant(grant: Grant) -> permission_pb2.RegisteredModelPermission:
    return permission_pb2.RegisteredModelPermission(
        name=grant.resource, user_name=grant.user_name, permission=_LEVEL_PROTOS[grant.permission]
    )
