"""TrackingService methods of TrackwayClient: one per RPC, explicit ids."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from google.protobuf import field_mask_pb2

from trackway.client.base import ClientBase, new_request_id
from trackway.client.config import LoggerConfig, default_worker
from trackway.client.entities import (
    DatasetInput,
    Experiment,
    Metric,
    Page,
    Run,
    RunInfo,
    metrics_from_columns,
    status_value,
)
from trackway.gen.tracking.v1 import experiment_pb2, metric_pb2, run_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb

_VIEWS = {
    "active": experiment_pb2.VIEW_TYPE_ACTIVE_ONLY,
    "deleted": experiment_pb2.VIEW_TYPE_DELETED_ONLY,
    "all": experiment_pb2.VIEW_TYPE_ALL,
}
Pairs = Mapping[str, object] | Iterable[tuple[str, object]] | None


def parse_view(name: str) -> experiment_pb2.ViewType:
    try:
        return _VIEWS[name.lower()]
    except KeyError:
        raise ValueError(f"view type {name!r}: use one of {', '.join(_VIEWS)}") from None


def pairs(items: Pairs) -> list[tuple[str, str]]:
    """Key/value pairs from a mapping or an iterable of pairs, values as strings."""
    if items is None:
        return []
    seq = items.items() if isinstance(items, Mapping) else items
    return [(str(k), str(v)) for k, v in seq]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TrackingMethods(ClientBase):
    _logger_config: LoggerConfig | None = None

    @property
    def _worker(self) -> str:
        """The worker label of metric writes: the logger config's, else from the
        environment (TRACKWAY_WORKER, else RANK), as the background logger does."""
        config = self._logger_config
        return config.worker if config is not None else default_worker()

    # Experiments

    def create_experiment(
        self,
        name: str,
        artifact_location: str = "",
        tags: Pairs = None,
        *,
        request_id: str | None = None,
    ) -> str:
        """Creates an experiment; returns its id. AlreadyExists when the name is taken."""
        reply = self._call(
            self._tracking.CreateExperiment,
            pb.CreateExperimentRequest(
                name=name,
                artifact_location=artifact_location,
                tags=[experiment_pb2.ExperimentTag(key=k, value=v) for k, v in pairs(tags)],
                request_id=request_id or new_request_id(),
            ),
        )
        return str(reply.experiment.experiment_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        reply = self._call(
            self._tracking.GetExperiment, pb.GetExperimentRequest(experiment_id=experiment_id)
        )
        return Experiment.from_proto(reply.experiment)

    def get_experiment_by_name(self, name: str) -> Experiment:
        """NotFound when no experiment, active or deleted, has the name."""
        reply = self._call(
            self._tracking.GetExperimentByName, pb.GetExperimentByNameRequest(name=name)
        )
        return Experiment.from_proto(reply.experiment)

    def rename_experiment(self, experiment_id: str, new_name: str) -> Experiment:
        reply = self._call(
            self._tracking.UpdateExperiment,
            pb.UpdateExperimentRequest(
                experiment_id=experiment_id,
                name=new_name,
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
                request_id=new_request_id(),
            ),
        )
        return Experiment.from_proto(reply.experiment)

    def delete_experiment(self, experiment_id: str) -> None:
        self._call(
            self._tracking.DeleteExperiment,
            pb.DeleteExperimentRequest(experiment_id=experiment_id, request_id=new_request_id()),
        )

    def restore_experiment(self, experiment_id: str) -> None:
        self._call(
            self._tracking.RestoreExperiment,
            pb.RestoreExperimentRequest(experiment_id=experiment_id, request_id=new_request_id()),
        )

    def purge_experiment(self, experiment_id: str) -> int:
        """Removes a deleted experiment for good; returns how many runs went with it."""
        reply = self._call(
            self._tracking.PurgeExperiment,
            pb.PurgeExperimentRequest(experiment_id=experiment_id, request_id=new_request_id()),
        )
        return int(reply.purged_runs)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._call(
            self._tracking.SetExperimentTag,
            pb.SetExperimentTagRequest(
                experiment_id=experiment_id,
                tag=experiment_pb2.ExperimentTag(key=key, value=str(value)),
                request_id=new_request_id(),
            ),
        )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call(
            self._tracking.DeleteExperimentTag,
            pb.DeleteExperimentTagRequest(
                experiment_id=experiment_id, key=key, request_id=new_request_id()
            ),
        )

    def search_experiments(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        view_type: str = "active",
        max_results: int = 0,
        page_token: str = "",
    ) -> Page[Experiment]:
        """One page; pass `.token` back as `page_token` for the next."""
        reply = self._call(
            self._tracking.SearchExperiments,
            pb.SearchExperimentsRequest(
                filter=filter_string,
                order_by=list(order_by or []),
                page_size=max_results,
                page_token=page_token,
                view_type=parse_view(view_type),
            ),
        )
        return Page([Experiment.from_proto(e) for e in reply.experiments], reply.next_page_token)

    # Runs

    def create_run(
        self,
        experiment_id: str,
        run_name: str = "",
        start_time: int | None = None,
        tags: Pairs = None,
        *,
        user_id: str = "",
        parent_run_id: str = "",
        request_id: str | None = None,
        lease_seconds: int = 0,
    ) -> Run:
        """Creates a run. With `lease_seconds` the server marks it FAILED once that long
        passes without a heartbeat (`heartbeat_run`, or `heartbeats.add` for a thread
        that sends them) or a write to the run; 0 (the default) is no lease."""
        reply = self._call(
            self._tracking.CreateRun,
            pb.CreateRunRequest(
                experiment_id=experiment_id,
                run_name=run_name,
                start_time=start_time or now_ms(),
                tags=[run_pb2.RunTag(key=k, value=v) for k, v in pairs(tags)],
                user_id=user_id,
                parent_run_id=parent_run_id,
                request_id=request_id or new_request_id(),
                lease_seconds=lease_seconds,
            ),
        )
        return Run.from_proto(reply.run)

    def get_run(self, run_id: str) -> Run:
        reply = self._call(self._tracking.GetRun, pb.GetRunRequest(run_id=run_id))
        return Run.from_proto(reply.run)

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> RunInfo:
        request = pb.UpdateRunRequest(run_id=run_id, request_id=new_request_id())
        paths = []
        if status is not None:
            request.status = status_value(status)
            paths.append("status")
        if end_time is not None:
            request.end_time = end_time
            paths.append("end_time")
        if name is not None:
            request.run_name = name
            paths.append("run_name")
        request.update_mask.paths.extend(paths)
        return RunInfo.from_proto(self._call(self._tracking.UpdateRun, request).run_info)

    def heartbeat_run(self, run_id: str, lease_seconds: int = 0) -> int:
        """Renews a RUNNING run's lease from now, with a new length when `lease_seconds`
        is set (0 keeps the run's); returns when it runs out, in epoch ms.
        FailedPrecondition when the run is not RUNNING (the server may have failed it
        for silence: update_run(status="RUNNING") resumes it) or has no lease."""
        reply = self._call(
            self._tracking.HeartbeatRun,
            pb.HeartbeatRunRequest(run_id=run_id, lease_seconds=lease_seconds),
        )
        return int(reply.lease_expire_time)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> RunInfo:
        """Ends a run: its status and end time (default now)."""
        return self.update_run(run_id, status=status, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        self._call(
            self._tracking.DeleteRun,
            pb.DeleteRunRequest(run_id=run_id, request_id=new_request_id()),
        )

    def restore_run(self, run_id: str) -> None:
        self._call(
            self._tracking.RestoreRun,
            pb.RestoreRunRequest(run_id=run_id, request_id=new_request_id()),
        )

    def set_tag(self, run_id: str, key: str, value: object) -> None:
        self._call(
            self._tracking.SetTag,
            pb.SetTagRequest(
                run_id=run_id,
                tag=run_pb2.RunTag(key=key, value=str(value)),
                request_id=new_request_id(),
            ),
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call(
            self._tracking.DeleteTag,
            pb.DeleteTagRequest(run_id=run_id, key=key, request_id=new_request_id()),
        )

    def log_param(self, run_id: str, key: str, value: object) -> None:
        """Params are write-once: a different value for a logged key is FailedPrecondition."""
        self._call(
            self._tracking.LogParam,
            pb.LogParamRequest(
                run_id=run_id,
                param=run_pb2.Param(key=key, value=str(value)),
                request_id=new_request_id(),
            ),
        )

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int = 0,
        *,
        worker: str | None = None,
    ) -> None:
        """Appends one point now, in one RPC. For many points use `logger` or log_batch.
        `worker` defaults to this client's worker label (TRACKWAY_WORKER, else RANK)."""
        self._call(
            self._tracking.LogMetric,
            pb.LogMetricRequest(
                run_id=run_id,
                metric=metric_pb2.Metric(
                    key=key,
                    value=float(value),
                    timestamp=timestamp or now_ms(),
                    step=step,
                    worker=self._worker if worker is None else worker,
                ),
                request_id=new_request_id(),
            ),
        )

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Pairs = None,
        tags: Pairs = None,
        *,
        request_id: str | None = None,
    ) -> None:
        """All or nothing: at most 1,000 metrics, 100 params and 100 tags. A metric without
        a worker label gets this client's (TRACKWAY_WORKER, else RANK)."""
        self._call(
            self._tracking.LogBatch,
            pb.LogBatchRequest(
                run_id=run_id,
                metrics=[
                    metric_pb2.Metric(
                        key=m.key,
                        value=m.value,
                        timestamp=m.timestamp,
                        step=m.step,
                        worker=m.worker or self._worker,
                    )
                    for m in metrics
                ],
                params=[run_pb2.Param(key=k, value=v) for k, v in pairs(params)],
                tags=[run_pb2.RunTag(key=k, value=v) for k, v in pairs(tags)],
                request_id=request_id or new_request_id(),
            ),
        )

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self._call(
            self._tracking.LogInputs,
            pb.LogInputsRequest(
                run_id=run_id,
                datasets=[
                    run_pb2.DatasetInput(
                        dataset=d.dataset.to_proto(),
                        tags=[run_pb2.InputTag(key=k, value=v) for k, v in d.tags.items()],
                    )
                    for d in datasets
                ],
                request_id=new_request_id(),
            ),
        )

    # Reads

    def get_metric_history(
        self, run_id: str, key: str, *, max_points: int = 0, worker: str = ""
    ) -> list[Metric]:
        """The whole history in step order, page after page; or, with `max_points`, a
        downsampled series that keeps its shape (first, last, each bucket's min and max).
        With `worker`, only the points of that worker."""
        points: list[Metric] = []
        token = ""
        while True:
            reply = self._call(
                self._tracking.GetMetricHistory,
                pb.GetMetricHistoryRequest(
                    run_id=run_id,
                    metric_key=key,
                    page_size=0 if max_points else 100_000,
                    page_token=token,
                    max_points=max_points,
                    worker=worker,
                ),
            )
            points.extend(metrics_from_columns(reply.points))
            token = reply.next_page_token
            if not token:
                return points

    def get_metric_history_bulk(
        self, run_ids: Sequence[str], key: str, *, max_points: int = 0
    ) -> dict[str, list[Metric]]:
        reply = self._call(
            self._tracking.GetMetricHistoryBulk,
            pb.GetMetricHistoryBulkRequest(
                run_ids=list(run_ids), metric_key=key, max_points=max_points
            ),
        )
        return {h.run_id: metrics_from_columns(h.points) for h in reply.histories}

    def search_runs(
        self,
        experiment_ids: Sequence[str] = (),
        filter_string: str = "",
        view_type: str = "active",
        max_results: int = 0,
        order_by: Sequence[str] | None = None,
        page_token: str = "",
        *,
        info_only: bool = False,
    ) -> Page[Run]:
        """One page of runs (default page size 1,000); `.token` leads to the next."""
        reply = self._call(
            self._tracking.SearchRuns,
            pb.SearchRunsRequest(
                experiment_ids=list(experiment_ids),
                filter=filter_string,
                order_by=list(order_by or []),
                page_size=max_results,
                page_token=page_token,
                view_type=parse_view(view_type),
                run_view=pb.RUN_VIEW_INFO_ONLY if info_only else pb.RUN_VIEW_FULL,
            ),
        )
        return Page([Run.from_proto(r) for r in reply.runs], reply.next_page_token)
