"""AdminClient: the AdminService (users, tokens, permissions) from Python.

One method per RPC, returning the domain's entities (`trackway.auth.entities`); lists
return every page. It authenticates like every client, with TRACKWAY_TOKEN (or an
explicit `token`) and the TLS settings of `trackway.client.channel`.

    with AdminClient("grpc://tracking:50051") as admin:
        admin.create_user("ci-bot")
        token, secret = admin.create_token("ci-bot", "nightly training")
        admin.grant_experiment_permission("7", "ci-bot", Permission.EDIT)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from trackway.auth.entities import ADMIN, USER, Grant, Permission, Token, User
from trackway.client.base import ClientBase
from trackway.gen.admin.v1 import admin_service_pb2 as pb
from trackway.gen.admin.v1 import admin_service_pb2_grpc, permission_pb2, user_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as tracking_pb

_ROLES = {user_pb2.ROLE_ADMIN: ADMIN, user_pb2.ROLE_USER: USER}
_LEVELS = {
    permission_pb2.PERMISSION_READ: Permission.READ,
    permission_pb2.PERMISSION_EDIT: Permission.EDIT,
    permission_pb2.PERMISSION_MANAGE: Permission.MANAGE,
}
_LEVEL_PROTOS = {level: number for number, level in _LEVELS.items()}


class AdminClient(ClientBase):
    def __init__(self, tracking_uri: str | None = None, **kwargs: Any) -> None:
        super().__init__(tracking_uri, **kwargs)
        self._admin = admin_service_pb2_grpc.AdminServiceStub(self._channel)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    # Users

    def current_user(self) -> User:
        return _user(self._call(self._admin.GetCurrentUser, pb.GetCurrentUserRequest()).user)

    def create_user(self, name: str, *, admin: bool = False) -> User:
        role = user_pb2.ROLE_ADMIN if admin else user_pb2.ROLE_USER
        reply = self._call(self._admin.CreateUser, pb.CreateUserRequest(name=name, role=role))
        return _user(reply.user)

    def get_user(self, name: str) -> User:
        return _user(self._call(self._admin.GetUser, pb.GetUserRequest(name=name)).user)

    def list_users(self) -> list[User]:
        return [
            _user(u)
            for u in _pages(
                lambda token: self._call(
                    self._admin.ListUsers, pb.ListUsersRequest(page_size=1000, page_token=token)
                ),
                "users",
            )
        ]

    def set_role(self, name: str, *, admin: bool) -> User:
        role = user_pb2.ROLE_ADMIN if admin else user_pb2.ROLE_USER
        reply = self._call(self._admin.UpdateUser, pb.UpdateUserRequest(name=name, role=role))
        return _user(reply.user)

    def delete_user(self, name: str) -> None:
        self._call(self._admin.DeleteUser, pb.DeleteUserRequest(name=name))

    # Tokens

    def create_token(
        self, user_name: str = "", description: str = "", ttl_seconds: int = 0
    ) -> tuple[Token, str]:
        """A new token of `user_name` (default: the caller) and its secret."""
        request = pb.CreateTokenRequest(
            user_name=user_name, description=description, ttl_seconds=ttl_seconds
        )
        reply = self._call(self._admin.CreateToken, request)
        return _token(reply.token), reply.secret

    def list_tokens(self, user_name: str = "") -> list[Token]:
        return [
            _token(t)
            for t in _pages(
                lambda token: self._call(
                    self._admin.ListTokens,
                    pb.ListTokensRequest(user_name=user_name, page_size=1000, page_token=token),
                ),
                "tokens",
            )
        ]

    def revoke_token(self, token_id: str) -> Token:
        reply = self._call(self._admin.RevokeToken, pb.RevokeTokenRequest(token_id=token_id))
        return _token(reply.token)

    # Permissions

    def experiment_id(self, ref: str) -> str:
        """An experiment id from an id or a name."""
        if ref.isdigit():
            return ref
        request = tracking_pb.GetExperimentByNameRequest(name=ref)
        return str(self._call(self._tracking.GetExperimentByName, request).experiment.experiment_id)

    def grant_experiment_permission(
        self, experiment_id: str, user_name: str, level: Permission
    ) -> Grant:
        request = pb.GrantExperimentPermissionRequest(
            experiment_id=experiment_id, user_name=user_name, permission=_LEVEL_PROTOS[level]
        )
        found = self._call(self._admin.GrantExperimentPermission, request).permission
        return Grant(found.experiment_id, found.user_name, _LEVELS[found.permission])

    def revoke_experiment_permission(self, experiment_id: str, user_name: str) -> None:
        request = pb.RevokeExperimentPermissionRequest(
            experiment_id=experiment_id, user_name=user_name
        )
        self._call(self._admin.RevokeExperimentPermission, request)

    def list_experiment_permissions(self, experiment_id: str) -> list[Grant]:
        return [
            Grant(p.experiment_id, p.user_name, _LEVELS[p.permission])
            for p in _pages(
                lambda token: self._call(
                    self._admin.ListExperimentPermissions,
                    pb.ListExperimentPermissionsRequest(
                        experiment_id=experiment_id, page_size=1000, page_token=token
                    ),
                ),
                "permissions",
            )
        ]

    def grant_model_permission(self, name: str, user_name: str, level: Permission) -> Grant:
        request = pb.GrantRegisteredModelPermissionRequest(
            name=name, user_name=user_name, permission=_LEVEL_PROTOS[level]
        )
        found = self._call(self._admin.GrantRegisteredModelPermission, request).permission
        return Grant(found.name, found.user_name, _LEVELS[found.permission])

    def revoke_model_permission(self, name: str, user_name: str) -> None:
        request = pb.RevokeRegisteredModelPermissionRequest(name=name, user_name=user_name)
        self._call(self._admin.RevokeRegisteredModelPermission, request)

    def list_model_permissions(self, name: str) -> list[Grant]:
        return [
            Grant(p.name, p.user_name, _LEVELS[p.permission])
            for p in _pages(
                lambda token: self._call(
                    self._admin.ListRegisteredModelPermissions,
                    pb.ListRegisteredModelPermissionsRequest(
                        name=name, page_size=1000, page_token=token
                    ),
                ),
                "permissions",
            )
        ]


def _pages(fetch: Callable[[str], Any], field: str) -> Iterator[Any]:
    token = ""
    while True:
        reply = fetch(token)
        yield from getattr(reply, field)
        token = reply.next_page_token
        if not token:
            return


def _user(message: Any) -> User:
    return User(0, message.name, _ROLES.get(message.role, USER), message.creation_time)


def _token(message: Any) -> Token:
    return Token(
        message.token_id,
        message.user_name,
        message.description,
        message.creation_time,
        message.expire_time or None,
        message.revoked_time or None,
    )
