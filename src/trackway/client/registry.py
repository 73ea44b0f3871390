"""ModelRegistryService methods of TrackwayClient. They return the API's messages
(`RegisteredModel`, `ModelVersion`), whose fields read like MLflow's entities."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import field_mask_pb2

from trackway.client.base import ClientBase, new_request_id
from trackway.client.entities import Page
from trackway.client.tracking import Pairs, pairs
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_version_pb2, registered_model_pb2

ModelVersion = model_version_pb2.ModelVersion
RegisteredModel = registered_model_pb2.RegisteredModel

_STAGES = {
    "none": model_version_pb2.MODEL_VERSION_STAGE_NONE,
    "staging": model_version_pb2.MODEL_VERSION_STAGE_STAGING,
    "production": model_version_pb2.MODEL_VERSION_STAGE_PRODUCTION,
    "archived": model_version_pb2.MODEL_VERSION_STAGE_ARCHIVED,
}
STAGE_NAMES = {value: name.capitalize() for name, value in _STAGES.items()}


def parse_stage(name: str) -> model_version_pb2.ModelVersionStage:
    try:
        return _STAGES[name.lower()]
    except KeyError:
        raise ValueError(
            f"stage {name!r}: use one of None, Staging, Production, Archived"
        ) from None


def stage_name(value: int) -> str:
    return STAGE_NAMES.get(value, "Unspecified")  # type: ignore[call-overload]


def _mv_tags(tags: Pairs) -> list[model_version_pb2.ModelVersionTag]:
    return [model_version_pb2.ModelVersionTag(key=k, value=v) for k, v in pairs(tags)]


class RegistryMethods(ClientBase):
    # Registered models

    def create_registered_model(
        self, name: str, description: str = "", tags: Pairs = None
    ) -> RegisteredModel:
        reply = self._call(
            self._registry.CreateRegisteredModel,
            pb.CreateRegisteredModelRequest(
                name=name,
                description=description,
                tags=[
                    registered_model_pb2.RegisteredModelTag(key=k, value=v) for k, v in pairs(tags)
                ],
                request_id=new_request_id(),
            ),
        )
        return reply.registered_model

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._call(
            self._registry.GetRegisteredModel, pb.GetRegisteredModelRequest(name=name)
        ).registered_model

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._call(
            self._registry.RenameRegisteredModel,
            pb.RenameRegisteredModelRequest(
                name=name, new_name=new_name, request_id=new_request_id()
            ),
        ).registered_model

    def update_registered_model(
        self, name: str, description: str, *, expected_last_updated_timestamp: int = 0
    ) -> RegisteredModel:
        """Sets the description; with the expected timestamp, Aborted when it changed."""
        return self._call(
            self._registry.UpdateRegisteredModel,
            pb.UpdateRegisteredModelRequest(
                name=name,
                description=description,
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
                expected_last_updated_timestamp=expected_last_updated_timestamp,
                request_id=new_request_id(),
            ),
        ).registered_model

    def delete_registered_model(self, name: str) -> None:
        self._call(
            self._registry.DeleteRegisteredModel,
            pb.DeleteRegisteredModelRequest(name=name, request_id=new_request_id()),
        )

    def set_registered_model_tag(self, name: str, key: str, value: object) -> None:
        self._call(
            self._registry.SetRegisteredModelTag,
            pb.SetRegisteredModelTagRequest(
                name=name,
                tag=registered_model_pb2.RegisteredModelTag(key=key, value=str(value)),
                request_id=new_request_id(),
            ),
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call(
            self._registry.DeleteRegisteredModelTag,
            pb.DeleteRegisteredModelTagRequest(name=name, key=key, request_id=new_request_id()),
        )

    def search_registered_models(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 0,
        page_token: str = "",
    ) -> Page[RegisteredModel]:
        reply = self._call(
            self._registry.SearchRegisteredModels,
            pb.SearchRegisteredModelsRequest(
                filter=filter_string,
                order_by=list(order_by or []),
                page_size=max_results,
                page_token=page_token,
            ),
        )
        return Page(list(reply.registered_models), reply.next_page_token)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        reply = self._call(
            self._registry.GetLatestVersions,
            pb.GetLatestVersionsRequest(name=name, stages=[parse_stage(s) for s in stages or []]),
        )
        return list(reply.model_versions)

    # Aliases

    def set_registered_model_alias(
        self, name: str, alias: str, version: int
    ) -> pb.SetRegisteredModelAliasResponse:
        """Points the alias at the version; the reply has the version and
        `previous_version`, the one the alias pointed at before (0: none)."""
        return self._call(
            self._registry.SetRegisteredModelAlias,
            pb.SetRegisteredModelAliasRequest(
                name=name, alias=alias, version=int(version), request_id=new_request_id()
            ),
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call(
            self._registry.DeleteRegisteredModelAlias,
            pb.DeleteRegisteredModelAliasRequest(
                name=name, alias=alias, request_id=new_request_id()
            ),
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._call(
            self._registry.GetModelVersionByAlias,
            pb.GetModelVersionByAliasRequest(name=name, alias=alias),
        ).model_version

    # Versions

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str = "",
        tags: Pairs = None,
        run_link: str = "",
        description: str = "",
        *,
        request_id: str | None = None,
    ) -> ModelVersion:
        """Registers a version; `source` is an artifact URI below the server's root, a
        `runs:/<run_id>/<path>` or a `models:/` URI."""
        return self._call(
            self._registry.CreateModelVersion,
            pb.CreateModelVersionRequest(
                name=name,
                source=source,
                run_id=run_id,
                run_link=run_link,
                description=description,
                tags=_mv_tags(tags),
                request_id=request_id or new_request_id(),
            ),
        ).model_version

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self._call(
            self._registry.GetModelVersion,
            pb.GetModelVersionRequest(name=name, version=int(version)),
        ).model_version

    def update_model_version(
        self,
        name: str,
        version: int,
        description: str,
        *,
        expected_last_updated_timestamp: int = 0,
    ) -> ModelVersion:
        return self._call(
            self._registry.UpdateModelVersion,
            pb.UpdateModelVersionRequest(
                name=name,
                version=int(version),
                description=description,
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
                expected_last_updated_timestamp=expected_last_updated_timestamp,
                request_id=new_request_id(),
            ),
        ).model_version

    def delete_model_version(self, name: str, version: int) -> None:
        self._call(
            self._registry.DeleteModelVersion,
            pb.DeleteModelVersionRequest(
                name=name, version=int(version), request_id=new_request_id()
            ),
        )

    def set_model_version_tag(self, name: str, version: int, key: str, value: object) -> None:
        self._call(
            self._registry.SetModelVersionTag,
            pb.SetModelVersionTagRequest(
                name=name,
                version=int(version),
                tag=model_version_pb2.ModelVersionTag(key=key, value=str(value)),
                request_id=new_request_id(),
            ),
        )

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        self._call(
            self._registry.DeleteModelVersionTag,
            pb.DeleteModelVersionTagRequest(
                name=name, version=int(version), key=key, request_id=new_request_id()
            ),
        )

    def search_model_versions(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 0,
        page_token: str = "",
    ) -> Page[ModelVersion]:
        reply = self._call(
            self._registry.SearchModelVersions,
            pb.SearchModelVersionsRequest(
                filter=filter_string,
                order_by=list(order_by or []),
                page_size=max_results,
                page_token=page_token,
            ),
        )
        return Page(list(reply.model_versions), reply.next_page_token)

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return self._call(
            self._registry.TransitionModelVersionStage,
            pb.TransitionModelVersionStageRequest(
                name=name,
                version=int(version),
                stage=parse_stage(stage),
                archive_existing_versions=archive_existing_versions,
                request_id=new_request_id(),
            ),
        ).model_version

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        return str(
            self._call(
                self._registry.GetModelVersionDownloadUri,
                pb.GetModelVersionDownloadUriRequest(name=name, version=int(version)),
            ).artifact_uri
        )

    def list_run_model_versions(
        self, run_id: str, max_results: int = 0, page_token: str = ""
    ) -> Page[ModelVersion]:
        reply = self._call(
            self._registry.ListRunModelVersions,
            pb.ListRunModelVersionsRequest(
                run_id=run_id, page_size=max_results, page_token=page_token
            ),
        )
        return Page(list(reply.model_versions), reply.next_page_token)

    def resolve_model_uri(self, uri: str) -> pb.ResolveModelUriResponse:
        """The artifact URI behind a `models:/` or `runs:/` URI, with the version and run."""
        return self._call(self._registry.ResolveModelUri, pb.ResolveModelUriRequest(uri=uri))
