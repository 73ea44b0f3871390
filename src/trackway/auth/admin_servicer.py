"""AdminService over gRPC: protos in, one AdminService call, protos out."""

from __future__ import annotations

from typing import Any

import grpc

from trackway.auth import admin_convert as convert
from trackway.auth.admin import AdminService
from trackway.errors import invalid
from trackway.gen.admin.v1 import admin_service_pb2 as pb
from trackway.gen.admin.v1 import admin_service_pb2_grpc as pb_grpc


class AdminServicer(pb_grpc.AdminServiceServicer):
    def __init__(self, service: AdminService) -> None:
        self._service = service

    # Users

    def GetCurrentUser(self, request: pb.GetCurrentUserRequest, context: Any) -> Any:
        return pb.GetCurrentUserResponse(user=convert.user_to_proto(self._service.current_user()))

    def CreateUser(self, request: pb.CreateUserRequest, context: Any) -> Any:
        created = self._service.create_user(
            request.name, convert.role(request.role, default="user")
        )
        return pb.CreateUserResponse(user=convert.user_to_proto(created))

    def GetUser(self, request: pb.GetUserRequest, context: Any) -> Any:
        return pb.GetUserResponse(user=convert.user_to_proto(self._service.get_user(request.name)))

    def ListUsers(self, request: pb.ListUsersRequest, context: Any) -> Any:
        page = self._service.list_users(request.page_size, request.page_token)
        return pb.ListUsersResponse(
            users=[convert.user_to_proto(u) for u in page.items],
            next_page_token=page.next_page_token,
        )

    def UpdateUser(self, request: pb.UpdateUserRequest, context: Any) -> Any:
        for path in request.update_mask.paths:
            if path != "role":
                raise invalid("update_mask", f"{path!r} is not one of role")
        updated = self._service.update_user(request.name, convert.role(request.role))
        return pb.UpdateUserResponse(user=convert.user_to_proto(updated))

    def DeleteUser(self, request: pb.DeleteUserRequest, context: Any) -> Any:
        self._service.delete_user(request.name)
        return pb.DeleteUserResponse()

    # Tokens

    def CreateToken(self, request: pb.CreateTokenRequest, context: Any) -> Any:
        token, secret = self._service.create_token(
            request.user_name, request.description, request.ttl_seconds
        )
        return pb.CreateTokenResponse(token=convert.token_to_proto(token), secret=secret)

    def ListTokens(self, request: pb.ListTokensRequest, context: Any) -> Any:
        page = self._service.list_tokens(request.user_name, request.page_size, request.page_token)
        return pb.ListTokensResponse(
            tokens=[convert.token_to_proto(t) for t in page.items],
            next_page_token=page.next_page_token,
        )

    def RevokeToken(self, request: pb.RevokeTokenRequest, context: Any) -> Any:
        revoked = self._service.revoke_token(request.token_id)
        return pb.RevokeTokenResponse(token=convert.token_to_proto(revoked))

    # Permissions

    def GrantExperimentPermission(
        self, request: pb.GrantExperimentPermissionRequest, context: Any
    ) -> Any:
        grant = self._service.grant_experiment(
            request.experiment_id, request.user_name, convert.level(request.permission)
        )
        return pb.GrantExperimentPermissionResponse(permission=convert.experiment_grant(grant))

    def RevokeExperimentPermission(
        self, request: pb.RevokeExperimentPermissionRequest, context: Any
    ) -> Any:
        self._service.revoke_experiment(request.experiment_id, request.user_name)
        return pb.RevokeExperimentPermissionResponse()

    def ListExperimentPermissions(
        self, request: pb.ListExperimentPermissionsRequest, context: Any
    ) -> Any:
        page = self._service.list_experiment(
            request.experiment_id, request.page_size, request.page_token
        )
        return pb.ListExperimentPermissionsResponse(
            permissions=[convert.experiment_grant(g) for g in page.items],
            next_page_token=page.next_page_token,
        )

    def GrantRegisteredModelPermission(
        self, request: pb.GrantRegisteredModelPermissionRequest, context: Any
    ) -> Any:
        grant = self._service.grant_model(
            request.name, request.user_name, convert.level(request.permission)
        )
        return pb.GrantRegisteredModelPermissionResponse(permission=convert.model_grant(grant))

    def RevokeRegisteredModelPermission(
        self, request: pb.RevokeRegisteredModelPermissionRequest, context: Any
    ) -> Any:
        self._service.revoke_model(request.name, request.user_name)
        return pb.RevokeRegisteredModelPermissionResponse()

    def ListRegisteredModelPermissions(
        self, request: pb.ListRegisteredModelPermissionsRequest, context: Any
    ) -> Any:
        page = self._service.list_model(request.name, request.page_size, request.page_token)
        return pb.ListRegisteredModelPermissionsResponse(
            permissions=[convert.model_grant(g) for g in page.items],
            next_page_token=page.next_page_token,
        )


def register(server: grpc.Server, service: AdminService) -> str:
    """Adds the servicer to a server; returns the full service name."""
    pb_grpc.add_AdminServiceServicer_to_server(AdminServicer(service), server)
    return str(pb.DESCRIPTOR.services_by_name["AdminService"].full_name)
