"""The SQL logged-model store: one method per use case, one transaction per method.

It shares the tracking store's engine and group-commit writer (build it with
`SqlLoggedModelStore.from_tracking(store)`), so its writes commit in the same groups as
tracking writes and see the experiments and runs tables in the same transaction. Each
write goes through `trackway.store.writes.idempotent_write`: a retried request id is
answered from its first attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

from trackway.store import logged_model_ops as ops
from trackway.store.base import SqlStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.entities import Page
from trackway.tracking.logged_model_entities import (
    LoggedModel,
    ModelMetric,
    ModelSearch,
    NewLoggedModel,
)


class SqlLoggedModelStore(SqlStore):
    """Logged models with their tags, params and metrics in a SQL database."""

    @classmethod
    def from_tracking(cls, store: SqlTrackingStore) -> SqlLoggedModelStore:
        """A store on the tracking store's database, writer and artifact root. Closing
        the tracking store closes this one too."""
        return cls(store.engine, store.writer, store.artifact_root)

    def create(self, new: NewLoggedModel, request_id: str = "") -> LoggedModel:
        model_id = self._write(
            "CreateLoggedModel", request_id, lambda conn, now: ops.create(conn, new, now)
        )
        return self.get(model_id)

    def get(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self._read(lambda conn: ops.get(conn, model_id, allow_deleted))

    def finalize(
        self, model_id: str, status: str, message: str, request_id: str = ""
    ) -> LoggedModel:
        self._write(
            "FinalizeLoggedModel",
            request_id,
            lambda conn, now: ops.finalize(conn, model_id, status, message, now),
        )
        return self.get(model_id)

    def delete(self, model_id: str, request_id: str = "") -> None:
        self._write(
            "DeleteLoggedModel", request_id, lambda conn, now: ops.delete_model(conn, model_id, now)
        )

    def set_tags(
        self, model_id: str, tags: Sequence[tuple[str, str]], request_id: str = ""
    ) -> LoggedModel:
        self._write(
            "SetLoggedModelTags",
            request_id,
            lambda conn, now: ops.set_tags(conn, model_id, tags, now),
        )
        return self.get(model_id)

    def delete_tag(self, model_id: str, key: str, request_id: str = "") -> None:
        self._write(
            "DeleteLoggedModelTag",
            request_id,
            lambda conn, now: ops.delete_tag(conn, model_id, key, now),
        )

    def log_params(
        self, model_id: str, params: Sequence[tuple[str, str]], request_id: str = ""
    ) -> None:
        self._write(
            "LogLoggedModelParams",
            request_id,
            lambda conn, now: ops.log_params(conn, model_id, params, now),
        )

    def log_metrics(
        self, model_id: str, run_id: str, points: Sequence[ModelMetric], request_id: str = ""
    ) -> None:
        self._write(
            "LogLoggedModelMetrics",
            request_id,
            lambda conn, now: ops.log_metrics(conn, model_id, run_id, points, now),
        )

    def search(self, query: ModelSearch) -> Page[LoggedModel]:
        return self._read(lambda conn: ops.search_models(conn, query))
