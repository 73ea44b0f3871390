"""The SQL registry store: one method per use case, one transaction per method.

It shares the tracking store's engine and its group-commit writer (build it with
`SqlRegistryStore.from_tracking(store)`), so registry writes commit in the same groups
as tracking writes, on one connection, and a version's run check sees the runs table
in the same transaction. Each write job replays its request id first, exactly like the
tracking store's, so a retried write is answered from its first attempt.

Writes go through `trackway.store.writes.idempotent_write`, which also reruns a job that
PostgreSQL aborted for a deadlock between replicas.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from trackway.registry.entities import ModelVersion, NewVersion, RegisteredModel
from trackway.store import registry_ops
from trackway.store.base import SqlStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.entities import Page


class SqlRegistryStore(SqlStore):
    """Registered models, their versions, tags and aliases in a SQL database."""

    @classmethod
    def from_tracking(cls, store: SqlTrackingStore) -> SqlRegistryStore:
        """A registry store on the tracking store's database, writer and artifact root.
        Closing the tracking store closes this one too."""
        return cls(store.engine, store.writer, store.artifact_root)

    # Registered models

    def create_registered_model(
        self,
        name: str,
        description: str,
        tags: Sequence[tuple[str, str]],
        request_id: str = "",
    ) -> RegisteredModel:
        created = self._write(
            "CreateRegisteredModel",
            request_id,
            lambda conn, now: str(registry_ops.create_model(conn, name, description, tags, now)),
        )
        return self._read(lambda conn: registry_ops.get_model_by_id(conn, int(created)))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._read(lambda conn: registry_ops.get_model(conn, name))

    def rename_registered_model(
        self, name: str, new_name: str, request_id: str = ""
    ) -> RegisteredModel:
        mid = self._write(
            "RenameRegisteredModel",
            request_id,
            lambda conn, now: str(registry_ops.rename_model(conn, name, new_name, now)),
        )
        return self._read(lambda conn: registry_ops.get_model_by_id(conn, int(mid)))

    def update_registered_model(
        self, name: str, description: str, expected_ms: int, request_id: str = ""
    ) -> RegisteredModel:
        mid = self._write(
            "UpdateRegisteredModel",
            request_id,
            lambda conn, now: str(
                registry_ops.update_model_description(conn, name, description, expected_ms, now)
            ),
        )
        return self._read(lambda conn: registry_ops.get_model_by_id(conn, int(mid)))

    def delete_registered_model(self, name: str, request_id: str = "") -> None:
        self._write(
            "DeleteRegisteredModel",
            request_id,
            lambda conn, now: registry_ops.delete_model(conn, name),
        )

    def set_registered_model_tag(
        self, name: str, key: str, value: str, request_id: str = ""
    ) -> None:
        self._write(
            "SetRegisteredModelTag",
            request_id,
            lambda conn, now: registry_ops.set_model_tag(conn, name, key, value, now),
        )

    def delete_registered_model_tag(self, name: str, key: str, request_id: str = "") -> None:
        self._write(
            "DeleteRegisteredModelTag",
            request_id,
            lambda conn, now: registry_ops.delete_model_tag(conn, name, key, now),
        )

    def search_registered_models(
        self, filter_text: str, order_by: Sequence[str], page_size: int, page_token: str
    ) -> Page[RegisteredModel]:
        return self._read(
            lambda conn: registry_ops.search_models(
                conn, filter_text, order_by, page_size, page_token
            )
        )

    def get_latest_versions(self, name: str, stages: Sequence[str]) -> list[ModelVersion]:
        return self._read(lambda conn: registry_ops.latest_versions(conn, name, stages))

    def newest_version(self, name: str, stage: str | None) -> ModelVersion:
        return self._read(lambda conn: registry_ops.newest_version(conn, name, stage))

    # Aliases

    def set_alias(self, name: str, alias: str, version: int, request_id: str = "") -> int:
        previous = self._write(
            "SetRegisteredModelAlias",
            request_id,
            lambda conn, now: str(registry_ops.set_alias(conn, name, alias, version, now)),
        )
        return int(previous or 0)

    def delete_alias(self, name: str, alias: str, request_id: str = "") -> None:
        self._write(
            "DeleteRegisteredModelAlias",
            request_id,
            lambda conn, now: registry_ops.delete_alias(conn, name, alias, now),
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._read(lambda conn: registry_ops.version_by_alias(conn, name, alias))

    # Model versions

    def create_model_version(self, new: NewVersion, request_id: str = "") -> ModelVersion:
        def job(conn: Connection, now: int) -> str:
            mid, version = registry_ops.create_version(conn, new, now)
            return f"{mid}/{version}"

        mid, _, version = self._write("CreateModelVersion", request_id, job).partition("/")
        return self._read(lambda conn: registry_ops.get_version_by_id(conn, int(mid), int(version)))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self._read(lambda conn: registry_ops.get_version(conn, name, version))

    def update_model_version(
        self, name: str, version: int, description: str, expected_ms: int, request_id: str = ""
    ) -> ModelVersion:
        mid = self._write(
            "UpdateModelVersion",
            request_id,
            lambda conn, now: str(
                registry_ops.update_version_description(
                    conn, name, version, description, expected_ms, now
                )
            ),
        )
        return self._read(lambda conn: registry_ops.get_version_by_id(conn, int(mid), version))

    def delete_model_version(self, name: str, version: int, request_id: str = "") -> None:
        self._write(
            "DeleteModelVersion",
            request_id,
            lambda conn, now: registry_ops.delete_version(conn, name, version, now),
        )

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, request_id: str = ""
    ) -> None:
        self._write(
            "SetModelVersionTag",
            request_id,
            lambda conn, now: registry_ops.set_version_tag(conn, name, version, key, value, now),
        )

    def delete_model_version_tag(
        self, name: str, version: int, key: str, request_id: str = ""
    ) -> None:
        self._write(
            "DeleteModelVersionTag",
            request_id,
            lambda conn, now: registry_ops.delete_version_tag(conn, name, version, key, now),
        )

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing: bool,
        request_id: str = "",
    ) -> ModelVersion:
        mid = self._write(
            "TransitionModelVersionStage",
            request_id,
            lambda conn, now: str(
                registry_ops.transition_stage(conn, name, version, stage, archive_existing, now)
            ),
        )
        return self._read(lambda conn: registry_ops.get_version_by_id(conn, int(mid), version))

    def search_model_versions(
        self,
        filter_text: str,
        order_by: Sequence[str],
        page_size: int,
        page_token: str,
        run_id: str = "",
    ) -> Page[ModelVersion]:
        return self._read(
            lambda conn: registry_ops.search_versions(
                conn, filter_text, order_by, page_size, page_token, run_id
            )
        )
