"""The SQL tracking store: one method per use case, one transaction per method.

Reads run on pooled connections. Writes run as jobs on the group-commit writer, which
commits them in groups; each job checks the request id first, so a retried write is
answered from its first attempt and never applied twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from trackway.errors import FailedPrecondition
from trackway.store import engine as engines
from trackway.store import (
    experiment_ops,
    history,
    idempotency,
    ingest,
    migrate,
    run_ops,
    search_ops,
)
from trackway.store.base import SqlStore
from trackway.store.schema import log_writers
from trackway.store.writer import GroupCommitWriter
from trackway.store.writes import now_ms
from trackway.tracking.entities import (
    ACTIVE,
    DELETED,
    DatasetInput,
    Experiment,
    Page,
    Run,
    RunInfo,
    RunWrites,
)


class SqlTrackingStore(SqlStore):
    """Experiments, runs and their data in a SQL database."""

    def __init__(self, engine: Engine, *, artifact_root: str) -> None:
        super().__init__(engine, GroupCommitWriter(engine), artifact_root)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        artifact_root: str,
        sqlite_synchronous: str = "NORMAL",
        upgrade: bool = True,
    ) -> SqlTrackingStore:
        engine = engines.create(url, sqlite_synchronous=sqlite_synchronous)
        if upgrade:
            migrate.upgrade(engine)
        return cls(engine, artifact_root=artifact_root)

    def close(self) -> None:
        """Commits what is queued, then releases the database."""
        self.writer.close()
        self.engine.dispose()

    # Experiments

    def create_experiment(
        self,
        name: str,
        artifact_location: str,
        tags: Sequence[tuple[str, str]],
        request_id: str = "",
    ) -> Experiment:
        created = self._write(
            "CreateExperiment",
            request_id,
            lambda conn, now: str(
                experiment_ops.create(
                    conn, name, artifact_location, tags, self._default_location, now
                )
            ),
        )
        return self.get_experiment(int(created))

    def _default_location(self, experiment_id: int) -> str:
        return f"{self.artifact_root}/{experiment_id}"

    def get_experiment(self, experiment_id: int) -> Experiment:
        return self._read(lambda conn: experiment_ops.get(conn, experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment:
        return self._read(lambda conn: experiment_ops.get_by_name(conn, name))

    def rename_experiment(self, experiment_id: int, name: str, request_id: str = "") -> Experiment:
        self._write(
            "UpdateExperiment",
            request_id,
            lambda conn, now: experiment_ops.rename(conn, experiment_id, name, now),
        )
        return self.get_experiment(experiment_id)

    def delete_experiment(self, experiment_id: int, request_id: str = "") -> None:
        self._write(
            "DeleteExperiment",
            request_id,
            lambda conn, now: experiment_ops.soft_delete(conn, experiment_id, now),
        )

    def restore_experiment(self, experiment_id: int, request_id: str = "") -> None:
        self._write(
            "RestoreExperiment",
            request_id,
            lambda conn, now: experiment_ops.restore(conn, experiment_id, now),
        )

    def purge_experiment(self, experiment_id: int, request_id: str = "") -> int:
        purged = self._write(
            "PurgeExperiment",
            request_id,
            lambda conn, now: str(experiment_ops.purge(conn, experiment_id)),
        )
        return int(purged or 0)

    def set_experiment_tag(
        self, experiment_id: int, key: str, value: str, request_id: str = ""
    ) -> None:
        def job(conn: Connection, now: int) -> None:
            experiment_ops.require_active(conn, experiment_id)
            experiment_ops.set_tags(conn, experiment_id, [(key, value)])
            experiment_ops.touch(conn, experiment_id, now)

        self._write("SetExperimentTag", request_id, job)

    def delete_experiment_tag(self, experiment_id: int, key: str, request_id: str = "") -> None:
        self._write(
            "DeleteExperimentTag",
            request_id,
            lambda conn, now: experiment_ops.delete_tag(conn, experiment_id, key, now),
        )

    def search_experiments(
        self, filter_text: str, order_by: Sequence[str], view: str, page_size: int, page_token: str
    ) -> Page[Experiment]:
        return self._read(
            lambda conn: search_ops.search_experiments(
                conn,
                filter_text=filter_text,
                order_by=order_by,
                view=view,
                page_size=page_size,
                page_token=page_token,
            )
        )

    # Runs

    def create_run(
        self,
        *,
        run_id: str,
        experiment_id: int,
        run_name: str,
        user_id: str,
        start_time: int,
        tags: Sequence[tuple[str, str]],
        parent_run_id: str,
        request_id: str = "",
        lease_seconds: int = 0,
    ) -> Run:
        def job(conn: Connection, now: int) -> str:
            run_ops.create(
                conn,
                run_id=run_id,
                experiment_id=experiment_id,
                run_name=run_name,
                user_id=user_id,
                start_time=start_time or now,
                tag_items=tags,
                parent_run_id=parent_run_id,
                lease_seconds=lease_seconds,
                now_ms=now,
            )
            return run_id

        return self.get_run(self._write("CreateRun", request_id, job))

    def get_run_info(self, run_id: str) -> RunInfo:
        return self._read(lambda conn: run_ops.info(conn, run_id))

    def get_run(self, run_id: str) -> Run:
        return self._read(lambda conn: run_ops.load(conn, [run_ops.info(conn, run_id)])[0])

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
        request_id: str = "",
    ) -> RunInfo:
        self._write(
            "UpdateRun",
            request_id,
            lambda conn, now: run_ops.update_info(
                conn, run_id, status=status, end_time=end_time, run_name=run_name, now_ms=now
            ),
        )
        return self.get_run_info(run_id)

    def heartbeat_run(self, run_id: str, lease_seconds: int = 0) -> int:
        """Renews a RUNNING run's lease from now; returns when it runs out (epoch ms).
        Never replayed from a request id: each heartbeat renews from its own time."""
        expires = self._write(
            "HeartbeatRun",
            "",
            lambda conn, now: str(run_ops.heartbeat(conn, run_id, lease_seconds, now)),
        )
        return int(expires)

    def delete_run(self, run_id: str, request_id: str = "") -> None:
        self._write(
            "DeleteRun", request_id, lambda conn, now: run_ops.set_stage(conn, run_id, DELETED, now)
        )

    def restore_run(self, run_id: str, request_id: str = "") -> None:
        self._write(
            "RestoreRun", request_id, lambda conn, now: run_ops.set_stage(conn, run_id, ACTIVE, now)
        )

    def delete_tag(self, run_id: str, key: str, request_id: str = "") -> None:
        self._write(
            "DeleteTag", request_id, lambda conn, now: run_ops.delete_tag(conn, run_id, key)
        )

    def log(self, method: str, writes: RunWrites, request_id: str = "") -> None:
        """Applies metrics, params and tags to a run atomically (LogBatch and friends)."""

        def job(conn: Connection, now: int) -> None:
            run_ops.require_active(conn, writes.run_id, renew_at=now)
            ingest.write_run(conn, writes)

        self._write(method, request_id, job)

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput], request_id: str = "") -> None:
        self._write(
            "LogInputs", request_id, lambda conn, now: run_ops.log_inputs(conn, run_id, inputs)
        )

    # The streaming ingest path

    def last_stream_seq(self, writer_id: str) -> int:
        found = self._read(
            lambda conn: conn.execute(
                select(log_writers.c.last_seq).where(log_writers.c.writer_id == writer_id)
            ).scalar()
        )
        return int(found or 0)

    def submit_stream_batch(self, writer_id: str, seq: int, writes: RunWrites) -> Future[bool]:
        """Queues a LogStream batch; the future says True once committed, False when the
        batch had been committed before (a resend after reconnecting)."""

        def job(conn: Connection) -> bool:
            # Locked: after a failover, a resent batch may reach another replica while
            # this one still commits it; the lock makes the later of the two see it.
            last = conn.execute(
                select(log_writers.c.last_seq)
                .where(log_writers.c.writer_id == writer_id)
                .with_for_update()
            ).scalar()
            last = int(last or 0)
            if seq <= last:
                return False
            if seq != last + 1:
                raise FailedPrecondition(
                    f"batch seq {seq} of writer {writer_id!r} leaves a gap: the last committed "
                    f"is {last}; resend from {last + 1}",
                    metadata={"seq": str(seq), "last_committed_seq": str(last)},
                )
            now = now_ms()
            run_ops.require_active(conn, writes.run_id, renew_at=now)
            ingest.write_run(conn, writes)
            if last:
                conn.execute(
                    update(log_writers)
                    .where(log_writers.c.writer_id == writer_id)
                    .values(last_seq=seq, updated_time=now)
                )
            else:
                conn.execute(
                    log_writers.insert().values(writer_id=writer_id, last_seq=seq, updated_time=now)
                )
            return True

        return self.writer.submit(job)

    # Reads of metric history

    def _series(self, conn: Connection, run_id: str, key: str) -> int | None:
        run_ops.info(conn, run_id)
        return history.series_id(conn, run_id, key)

    def metric_history_page(
        self, run_id: str, key: str, after: tuple[int, int] | None, size: int, worker: str = ""
    ) -> tuple[history.Points, tuple[int, int] | None]:
        def read(conn: Connection) -> tuple[history.Points, tuple[int, int] | None]:
            series = self._series(conn, run_id, key)
            if series is None:
                return history.Points(), None
            return history.page(conn, series, after, size, worker)

        return self._read(read)

    def metric_history_downsampled(
        self, run_ids: Sequence[str], key: str, max_points: int, worker: str = ""
    ) -> list[history.Points]:
        def read(conn: Connection) -> list[history.Points]:
            found = []
            for run_id in run_ids:
                series = self._series(conn, run_id, key)
                found.append(
                    history.Points()
                    if series is None
                    else history.downsampled(conn, series, max_points, worker)
                )
            return found

        return self._read(read)

    def search_runs(
        self,
        *,
        experiment_ids: Sequence[int],
        filter_text: str,
        order_by: Sequence[str],
        view: str,
        page_size: int,
        page_token: str,
        with_data: bool,
    ) -> Page[Run]:
        return self._read(
            lambda conn: search_ops.search_runs(
                conn,
                experiment_ids=experiment_ids,
                filter_text=filter_text,
                order_by=order_by,
                view=view,
                page_size=page_size,
                page_token=page_token,
                with_data=with_data,
            )
        )

    def fail_expired_runs(self, batch: int = 500) -> int:
        """Marks RUNNING runs whose lease ran out FAILED, with the reason tag; returns how
        many. One transaction per `batch` runs, so a backlog never holds the writer long."""
        failed = 0
        while True:
            found = 0

            def job(conn: Connection, now: int) -> str:
                nonlocal found
                found, done = run_ops.fail_expired(conn, now, batch)
                return str(done)

            failed += int(self._write("SweepRunLeases", "", job))
            if found < batch:
                return failed

    def sweep(self, request_window_ms: int, writer_ttl_ms: int) -> int:
        """Forgets expired request ids and idle stream writers."""
        now = now_ms()
        return int(
            self._write(
                "Sweep",
                "",
                lambda conn, _: str(
                    idempotency.sweep(conn, now - request_window_ms, now - writer_ttl_ms)
                ),
            )
        )
