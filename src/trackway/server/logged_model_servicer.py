"""LoggedModelService over gRPC: protos in, one service call, protos out."""

from __future__ import annotations

from typing import Any

import grpc

from trackway.gen.tracking.v1 import logged_model_service_pb2 as pb
from trackway.gen.tracking.v1 import logged_model_service_pb2_grpc as pb_grpc
from trackway.server import logged_model_convert as convert
from trackway.tracking.logged_models import LoggedModelService


class LoggedModelServicer(pb_grpc.LoggedModelServiceServicer):
    def __init__(self, service: LoggedModelService) -> None:
        self._service = service

    def CreateLoggedModel(self, request: pb.CreateLoggedModelRequest, context: Any) -> Any:
        model = self._service.create_logged_model(
            request.experiment_id,
            request.name,
            request.model_type,
            request.source_run_id,
            convert.pairs(request.params),
            convert.pairs(request.tags),
            request.request_id,
        )
        return pb.CreateLoggedModelResponse(model=convert.model_to_proto(model))

    def GetLoggedModel(self, request: pb.GetLoggedModelRequest, context: Any) -> Any:
        model = self._service.get_logged_model(request.model_id, request.allow_deleted)
        return pb.GetLoggedModelResponse(model=convert.model_to_proto(model))

    def FinalizeLoggedModel(self, request: pb.FinalizeLoggedModelRequest, context: Any) -> Any:
        model = self._service.finalize_logged_model(
            request.model_id,
            convert.status_from_proto(request.status),
            request.status_message,
            request.request_id,
        )
        return pb.FinalizeLoggedModelResponse(model=convert.model_to_proto(model))

    def DeleteLoggedModel(self, request: pb.DeleteLoggedModelRequest, context: Any) -> Any:
        self._service.delete_logged_model(request.model_id, request.request_id)
        return pb.DeleteLoggedModelResponse()

    def SetLoggedModelTags(self, request: pb.SetLoggedModelTagsRequest, context: Any) -> Any:
        model = self._service.set_logged_model_tags(
            request.model_id, convert.pairs(request.tags), request.request_id
        )
        return pb.SetLoggedModelTagsResponse(model=convert.model_to_proto(model))

    def DeleteLoggedModelTag(self, request: pb.DeleteLoggedModelTagRequest, context: Any) -> Any:
        self._service.delete_logged_model_tag(request.model_id, request.key, request.request_id)
        return pb.DeleteLoggedModelTagResponse()

    def LogLoggedModelParams(self, request: pb.LogLoggedModelParamsRequest, context: Any) -> Any:
        self._service.log_logged_model_params(
            request.model_id, convert.pairs(request.params), request.request_id
        )
        return pb.LogLoggedModelParamsResponse()

    def LogLoggedModelMetrics(self, request: pb.LogLoggedModelMetricsRequest, context: Any) -> Any:
        self._service.log_logged_model_metrics(
            request.model_id,
            request.run_id,
            [convert.metric_from_proto(m) for m in request.metrics],
            request.request_id,
        )
        return pb.LogLoggedModelMetricsResponse()

    def SearchLoggedModels(self, request: pb.SearchLoggedModelsRequest, context: Any) -> Any:
        page = self._service.search_logged_models(
            list(request.experiment_ids),
            request.filter,
            list(request.order_by),
            [convert.dataset_from_proto(d) for d in request.datasets],
            request.page_size,
            request.page_token,
        )
        return pb.SearchLoggedModelsResponse(
            models=[convert.model_to_proto(m) for m in page.items],
            next_page_token=page.next_page_token,
        )


def register(server: grpc.Server, service: LoggedModelService) -> str:
    """Adds the servicer to a server; returns the full service name."""
    pb_grpc.add_LoggedModelServiceServicer_to_server(LoggedModelServicer(service), server)
    return str(pb.DESCRIPTOR.services_by_name["LoggedModelService"].full_name)
