"""ModelRegistryService over gRPC: protos in, one service call, protos out."""

from __future__ import annotations

from typing import Any

import grpc

from trackway.errors import invalid
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_registry_service_pb2_grpc as pb_grpc
from trackway.registry.service import RegistryService
from trackway.server import registry_convert as convert

_DESCRIPTION_ONLY = ("description",)


def _check_mask(request: Any, allowed: tuple[str, ...]) -> None:
    for path in request.update_mask.paths:
        if path not in allowed:
            raise invalid("update_mask", f"{path!r} is not one of {', '.join(allowed)}")


class ModelRegistryServicer(pb_grpc.ModelRegistryServiceServicer):
    def __init__(self, service: RegistryService) -> None:
        self._service = service

    # Registered models

    def CreateRegisteredModel(self, request: pb.CreateRegisteredModelRequest, context: Any) -> Any:
        model = self._service.create_registered_model(
            request.name,
            request.description,
            convert.tag_items(request.tags),
            request.request_id,
        )
        return pb.CreateRegisteredModelResponse(
            registered_model=convert.registered_model_to_proto(model)
        )

    def GetRegisteredModel(self, request: pb.GetRegisteredModelRequest, context: Any) -> Any:
        model = self._service.get_registered_model(request.name)
        return pb.GetRegisteredModelResponse(
            registered_model=convert.registered_model_to_proto(model)
        )

    def RenameRegisteredModel(self, request: pb.RenameRegisteredModelRequest, context: Any) -> Any:
        model = self._service.rename_registered_model(
            request.name, request.new_name, request.request_id
        )
        return pb.RenameRegisteredModelResponse(
            registered_model=convert.registered_model_to_proto(model)
        )

    def UpdateRegisteredModel(self, request: pb.UpdateRegisteredModelRequest, context: Any) -> Any:
        _check_mask(request, _DESCRIPTION_ONLY)
        model = self._service.update_registered_model(
            request.name,
            request.description,
            request.expected_last_updated_timestamp,
            request.request_id,
        )
        return pb.UpdateRegisteredModelResponse(
            registered_model=convert.registered_model_to_proto(model)
        )

    def DeleteRegisteredModel(self, request: pb.DeleteRegisteredModelRequest, context: Any) -> Any:
        self._service.delete_registered_model(request.name, request.request_id)
        return pb.DeleteRegisteredModelResponse()

    def SetRegisteredModelTag(self, request: pb.SetRegisteredModelTagRequest, context: Any) -> Any:
        self._service.set_registered_model_tag(
            request.name, request.tag.key, request.tag.value, request.request_id
        )
        return pb.SetRegisteredModelTagResponse()

    def DeleteRegisteredModelTag(
        self, request: pb.DeleteRegisteredModelTagRequest, context: Any
    ) -> Any:
        self._service.delete_registered_model_tag(request.name, request.key, request.request_id)
        return pb.DeleteRegisteredModelTagResponse()

    def SearchRegisteredModels(
        self, request: pb.SearchRegisteredModelsRequest, context: Any
    ) -> Any:
        page = self._service.search_registered_models(
            request.filter, list(request.order_by), request.page_size, request.page_token
        )
        return pb.SearchRegisteredModelsResponse(
            registered_models=[convert.registered_model_to_proto(m) for m in page.items],
            next_page_token=page.next_page_token,
        )

    def GetLatestVersions(self, request: pb.GetLatestVersionsRequest, context: Any) -> Any:
        stages = convert.stages_from_proto("stages", request.stages)
        found = self._service.get_latest_versions(request.name, stages)
        return pb.GetLatestVersionsResponse(
            model_versions=[convert.model_version_to_proto(v) for v in found]
        )

    # Aliases

    def SetRegisteredModelAlias(
        self, request: pb.SetRegisteredModelAliasRequest, context: Any
    ) -> Any:
        version, previous = self._service.set_alias(
            request.name, request.alias, request.version, request.request_id
        )
        return pb.SetRegisteredModelAliasResponse(
            model_version=convert.model_version_to_proto(version), previous_version=previous
        )

    def DeleteRegisteredModelAlias(
        self, request: pb.DeleteRegisteredModelAliasRequest, context: Any
    ) -> Any:
        self._service.delete_alias(request.name, request.alias, request.request_id)
        return pb.DeleteRegisteredModelAliasResponse()

    def GetModelVersionByAlias(
        self, request: pb.GetModelVersionByAliasRequest, context: Any
    ) -> Any:
        version = self._service.get_model_version_by_alias(request.name, request.alias)
        return pb.GetModelVersionByAliasResponse(
            model_version=convert.model_version_to_proto(version)
        )

    # Model versions

    def CreateModelVersion(self, request: pb.CreateModelVersionRequest, context: Any) -> Any:
        version = self._service.create_model_version(
            request.name,
            request.source,
            run_id=request.run_id,
            run_link=request.run_link,
            description=request.description,
            tags=convert.tag_items(request.tags),
            request_id=request.request_id,
        )
        return pb.CreateModelVersionResponse(model_version=convert.model_version_to_proto(version))

    def GetModelVersion(self, request: pb.GetModelVersionRequest, context: Any) -> Any:
        version = self._service.get_model_version(request.name, request.version)
        return pb.GetModelVersionResponse(model_version=convert.model_version_to_proto(version))

    def UpdateModelVersion(self, request: pb.UpdateModelVersionRequest, context: Any) -> Any:
        _check_mask(request, _DESCRIPTION_ONLY)
        version = self._service.update_model_version(
            request.name,
            request.version,
            request.description,
            request.expected_last_updated_timestamp,
            request.request_id,
        )
        return pb.UpdateModelVersionResponse(model_version=convert.model_version_to_proto(version))

    def DeleteModelVersion(self, request: pb.DeleteModelVersionRequest, context: Any) -> Any:
        self._service.delete_model_version(request.name, request.version, request.request_id)
        return pb.DeleteModelVersionResponse()

    def SetModelVersionTag(self, request: pb.SetModelVersionTagRequest, context: Any) -> Any:
        self._service.set_model_version_tag(
            request.name, request.version, request.tag.key, request.tag.value, request.request_id
        )
        return pb.SetModelVersionTagResponse()

    def DeleteModelVersionTag(self, request: pb.DeleteModelVersionTagRequest, context: Any) -> Any:
        self._service.delete_model_version_tag(
            request.name, request.version, request.key, request.request_id
        )
        return pb.DeleteModelVersionTagResponse()

    def SearchModelVersions(self, request: pb.SearchModelVersionsRequest, context: Any) -> Any:
        page = self._service.search_model_versions(
            request.filter, list(request.order_by), request.page_size, request.page_token
        )
        return pb.SearchModelVersionsResponse(
            model_versions=[convert.model_version_to_proto(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    def TransitionModelVersionStage(
        self, request: pb.TransitionModelVersionStageRequest, context: Any
    ) -> Any:
        version = self._service.transition_stage(
            request.name,
            request.version,
            convert.stage_from_proto("stage", request.stage),
            request.archive_existing_versions,
            request.request_id,
        )
        return pb.TransitionModelVersionStageResponse(
            model_version=convert.model_version_to_proto(version)
        )

    def GetModelVersionDownloadUri(
        self, request: pb.GetModelVersionDownloadUriRequest, context: Any
    ) -> Any:
        uri = self._service.get_download_uri(request.name, request.version)
        return pb.GetModelVersionDownloadUriResponse(artifact_uri=uri)

    # Lineage and URIs

    def ListRunModelVersions(self, request: pb.ListRunModelVersionsRequest, context: Any) -> Any:
        page = self._service.list_run_model_versions(
            request.run_id, request.page_size, request.page_token
        )
        return pb.ListRunModelVersionsResponse(
            model_versions=[convert.model_version_to_proto(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    def ResolveModelUri(self, request: pb.ResolveModelUriRequest, context: Any) -> Any:
        found = self._service.resolve(request.uri)
        version = found.model_version
        return pb.ResolveModelUriResponse(
            artifact_uri=found.artifact_uri,
            model_version=None if version is None else convert.model_version_to_proto(version),
            run_id=found.run_id,
        )


def register(server: grpc.Server, service: RegistryService) -> str:
    """Adds the servicer to a server; returns the full service name."""
    pb_grpc.add_ModelRegistryServiceServicer_to_server(ModelRegistryServicer(service), server)
    return str(pb.DESCRIPTOR.services_by_name["ModelRegistryService"].full_name)
