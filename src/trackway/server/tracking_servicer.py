"""TrackingService over gRPC: protos in, one service call, protos out."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import grpc

from trackway.errors import invalid
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.server import log_stream
from trackway.server import tracking_convert as convert
from trackway.tracking.service import TrackingService


def _mask(request: Any, allowed: tuple[str, ...]) -> set[str] | None:
    """The update_mask paths, checked; None when the mask is empty."""
    paths = list(request.update_mask.paths)
    for path in paths:
        if path not in allowed:
            raise invalid("update_mask", f"{path!r} is not one of {', '.join(allowed)}")
    return set(paths) or None


class TrackingServicer(pb_grpc.TrackingServiceServicer):
    def __init__(self, service: TrackingService) -> None:
        self._service = service

    # Experiments

    def CreateExperiment(self, request: pb.CreateExperimentRequest, context: Any) -> Any:
        exp = self._service.create_experiment(
            request.name,
            request.artifact_location,
            [(t.key, t.value) for t in request.tags],
            request.request_id,
        )
        return pb.CreateExperimentResponse(experiment=convert.experiment_to_proto(exp))

    def GetExperiment(self, request: pb.GetExperimentRequest, context: Any) -> Any:
        exp = self._service.get_experiment(request.experiment_id)
        return pb.GetExperimentResponse(experiment=convert.experiment_to_proto(exp))

    def GetExperimentByName(self, request: pb.GetExperimentByNameRequest, context: Any) -> Any:
        exp = self._service.get_experiment_by_name(request.name)
        return pb.GetExperimentByNameResponse(experiment=convert.experiment_to_proto(exp))

    def UpdateExperiment(self, request: pb.UpdateExperimentRequest, context: Any) -> Any:
        _mask(request, ("name",))
        exp = self._service.rename_experiment(
            request.experiment_id, request.name, request.request_id
        )
        return pb.UpdateExperimentResponse(experiment=convert.experiment_to_proto(exp))

    def DeleteExperiment(self, request: pb.DeleteExperimentRequest, context: Any) -> Any:
        self._service.delete_experiment(request.experiment_id, request.request_id)
        return pb.DeleteExperimentResponse()

    def RestoreExperiment(self, request: pb.RestoreExperimentRequest, context: Any) -> Any:
        self._service.restore_experiment(request.experiment_id, request.request_id)
        return pb.RestoreExperimentResponse()

    def PurgeExperiment(self, request: pb.PurgeExperimentRequest, context: Any) -> Any:
        count = self._service.purge_experiment(request.experiment_id, request.request_id)
        return pb.PurgeExperimentResponse(purged_runs=count)

    def SetExperimentTag(self, request: pb.SetExperimentTagRequest, context: Any) -> Any:
        self._service.set_experiment_tag(
            request.experiment_id, request.tag.key, request.tag.value, request.request_id
        )
        return pb.SetExperimentTagResponse()

    def DeleteExperimentTag(self, request: pb.DeleteExperimentTagRequest, context: Any) -> Any:
        self._service.delete_experiment_tag(request.experiment_id, request.key, request.request_id)
        return pb.DeleteExperimentTagResponse()

    def SearchExperiments(self, request: pb.SearchExperimentsRequest, context: Any) -> Any:
        page = self._service.search_experiments(
            request.filter,
            list(request.order_by),
            convert.view_from_proto(request.view_type),
            request.page_size,
            request.page_token,
        )
        return pb.SearchExperimentsResponse(
            experiments=[convert.experiment_to_proto(e) for e in page.items],
            next_page_token=page.next_page_token,
        )

    # Runs

    def CreateRun(self, request: pb.CreateRunRequest, context: Any) -> Any:
        run = self._service.create_run(
            request.experiment_id,
            run_name=request.run_name,
            start_time=request.start_time,
            tags=[(t.key, t.value) for t in request.tags],
            user_id=request.user_id,
            parent_run_id=request.parent_run_id,
            request_id=request.request_id,
            lease_seconds=request.lease_seconds,
        )
        return pb.CreateRunResponse(run=convert.run_to_proto(run))

    def GetRun(self, request: pb.GetRunRequest, context: Any) -> Any:
        return pb.GetRunResponse(run=convert.run_to_proto(self._service.get_run(request.run_id)))

    def UpdateRun(self, request: pb.UpdateRunRequest, context: Any) -> Any:
        mask = _mask(request, ("status", "end_time", "run_name"))
        wanted = mask or {
            name
            for name, present in (
                ("status", request.status != 0),
                ("end_time", request.end_time != 0),
                ("run_name", request.run_name != ""),
            )
            if present
        }
        info = self._service.update_run(
            request.run_id,
            status=convert.status_from_proto(request.status) if "status" in wanted else None,
            end_time=request.end_time if "end_time" in wanted else None,
            run_name=request.run_name if "run_name" in wanted else None,
            request_id=request.request_id,
        )
        return pb.UpdateRunResponse(run_info=convert.run_info_to_proto(info))

    def HeartbeatRun(self, request: pb.HeartbeatRunRequest, context: Any) -> Any:
        expires = self._service.heartbeat_run(request.run_id, request.lease_seconds)
        return pb.HeartbeatRunResponse(lease_expire_time=expires)

    def DeleteRun(self, request: pb.DeleteRunRequest, context: Any) -> Any:
        self._service.delete_run(request.run_id, request.request_id)
        return pb.DeleteRunResponse()

    def RestoreRun(self, request: pb.RestoreRunRequest, context: Any) -> Any:
        self._service.restore_run(request.run_id, request.request_id)
        return pb.RestoreRunResponse()

    def SetTag(self, request: pb.SetTagRequest, context: Any) -> Any:
        self._service.set_tag(
            request.run_id, request.tag.key, request.tag.value, request.request_id
        )
        return pb.SetTagResponse()

    def DeleteTag(self, request: pb.DeleteTagRequest, context: Any) -> Any:
        self._service.delete_tag(request.run_id, request.key, request.request_id)
        return pb.DeleteTagResponse()

    def LogParam(self, request: pb.LogParamRequest, context: Any) -> Any:
        self._service.log_param(
            request.run_id, request.param.key, request.param.value, request.request_id
        )
        return pb.LogParamResponse()

    def LogMetric(self, request: pb.LogMetricRequest, context: Any) -> Any:
        m = request.metric
        self._service.log_metric(
            request.run_id, m.key, m.value, m.timestamp, m.step, request.request_id, m.worker
        )
        return pb.LogMetricResponse()

    def LogBatch(self, request: pb.LogBatchRequest, context: Any) -> Any:
        self._service.log_batch(
            request.run_id,
            [(m.key, m.value, m.timestamp, m.step, m.worker) for m in request.metrics],
            [(p.key, p.value) for p in request.params],
            [(t.key, t.value) for t in request.tags],
            request.request_id,
        )
        return pb.LogBatchResponse()

    def LogColumns(self, request: pb.LogColumnsRequest, context: Any) -> Any:
        self._service.log_columns(
            request.run_id,
            convert.metric_columns(request.metrics),
            [(p.key, p.value) for p in request.params],
            [(t.key, t.value) for t in request.tags],
            request.request_id,
        )
        return pb.LogColumnsResponse()

    def LogInputs(self, request: pb.LogInputsRequest, context: Any) -> Any:
        self._service.log_inputs(
            request.run_id, convert.dataset_inputs(request.datasets), request.request_id
        )
        return pb.LogInputsResponse()

    def LogStream(self, request_iterator: Iterator[pb.LogStreamRequest], context: Any) -> Any:
        return log_stream.serve(
            request_iterator,
            context,
            self._service.open_stream,
            self._submit_stream_batch,
            "trackway-logstream",
        )

    def _submit_stream_batch(self, writer_id: str, batch: pb.LogStreamBatch) -> Future[bool]:
        return self._service.submit_stream_batch(writer_id, batch.seq, convert.stream_writes(batch))

    # Reads

    def GetMetricHistory(self, request: pb.GetMetricHistoryRequest, context: Any) -> Any:
        if request.max_points:
            if request.page_token:
                raise invalid("page_token", "does not apply when max_points is set")
            (points,) = self._service.metric_history_downsampled(
                [request.run_id], request.metric_key, request.max_points, request.worker
            )
            return pb.GetMetricHistoryResponse(
                points=convert.points_to_proto(request.metric_key, points)
            )
        points, token = self._service.metric_history(
            request.run_id,
            request.metric_key,
            request.page_size,
            request.page_token,
            request.worker,
        )
        return pb.GetMetricHistoryResponse(
            points=convert.points_to_proto(request.metric_key, points), next_page_token=token
        )

    def GetMetricHistoryBulk(self, request: pb.GetMetricHistoryBulkRequest, context: Any) -> Any:
        run_ids = list(request.run_ids)
        found = self._service.metric_history_downsampled(
            run_ids, request.metric_key, request.max_points
        )
        return pb.GetMetricHistoryBulkResponse(
            histories=[
                pb.RunMetricHistory(
                    run_id=run_id, points=convert.points_to_proto(request.metric_key, points)
                )
                for run_id, points in zip(run_ids, found, strict=True)
            ]
        )

    def SearchRuns(self, request: pb.SearchRunsRequest, context: Any) -> Any:
        page = self._service.search_runs(
            list(request.experiment_ids),
            request.filter,
            list(request.order_by),
            convert.view_from_proto(request.view_type),
            request.page_size,
            request.page_token,
            with_data=request.run_view != pb.RUN_VIEW_INFO_ONLY,
        )
        return pb.SearchRunsResponse(
            runs=[convert.run_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )


def register(server: grpc.Server, service: TrackingService) -> str:
    """Adds the servicer to a server; returns the full service name."""
    pb_grpc.add_TrackingServiceServicer_to_server(TrackingServicer(service), server)
    return str(pb.DESCRIPTOR.services_by_name["TrackingService"].full_name)
