"""The registry service: the one place where registry requests become store calls.

gRPC (and later the MLflow-compatible REST gateway) call this class, so the rules about
input live here and in `validation`: canonical names, alias rules, limits, and where a
version's source may point. Rules that need the database's state inside a transaction
(a model's next version number, a run's existence, stage moves) live in the store.

Sources: a version's `source` is kept as the client gave it, and `storage_location` is
where the bytes are: the source itself when it is an artifact URI below the server's
artifact root, or what a `runs:/` or `models:/` source resolves to, which must lie
below the root too. Anything else is INVALID_ARGUMENT, and every read that hands a
location out checks it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from trackway.errors import invalid
from trackway.registry import limits, uris
from trackway.registry import validation as check
from trackway.registry.entities import (
    ACTIVE_STAGES,
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Resolution,
)
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking import limits as tracking_limits
from trackway.tracking import validation as tracking_check
from trackway.tracking.entities import Page
from trackway.tracking.logged_model_entities import LoggedModel
from trackway.tracking.logged_models import LoggedModelService, is_model_id


class RegistryService:
    def __init__(
        self,
        store: SqlRegistryStore,
        tracking: SqlTrackingStore,
        logged_models: LoggedModelService | None = None,
    ) -> None:
        self.store = store
        self.tracking = tracking
        # MLflow 3 registers versions from `models:/<model id>` sources.
        self.logged_models = logged_models

    @property
    def artifact_root(self) -> str:
        return self.store.artifact_root

    # Registered models

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> RegisteredModel:
        name = check.model_name("name", name)
        check.description("description", description)
        check.tags("tags", tags)
        tracking_check.request_id(request_id)
        return self.store.create_registered_model(name, description, tags, request_id)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(check.model_name("name", name))

    def rename_registered_model(
        self, name: str, new_name: str, request_id: str = ""
    ) -> RegisteredModel:
        name = check.model_name("name", name)
        new_name = check.model_name("new_name", new_name)
        tracking_check.request_id(request_id)
        return self.store.rename_registered_model(name, new_name, request_id)

    def update_registered_model(
        self,
        name: str,
        description: str,
        expected_last_updated_timestamp: int = 0,
        request_id: str = "",
    ) -> RegisteredModel:
        name = check.model_name("name", name)
        check.description("description", description)
        _check_expected(expected_last_updated_timestamp)
        tracking_check.request_id(request_id)
        return self.store.update_registered_model(
            name, description, expected_last_updated_timestamp, request_id
        )

    def delete_registered_model(self, name: str, request_id: str = "") -> None:
        name = check.model_name("name", name)
        tracking_check.request_id(request_id)
        self.store.delete_registered_model(name, request_id)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, request_id: str = ""
    ) -> None:
        name = check.model_name("name", name)
        check.tag("tag", key, value)
        tracking_check.request_id(request_id)
        self.store.set_registered_model_tag(name, key, value, request_id)

    def delete_registered_model_tag(self, name: str, key: str, request_id: str = "") -> None:
        name = check.model_name("name", name)
        tracking_check.key("key", key)
        tracking_check.request_id(request_id)
        self.store.delete_registered_model_tag(name, key, request_id)

    def search_registered_models(
        self,
        filter_text: str = "",
        order_by: Sequence[str] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[RegisteredModel]:
        _check_search(filter_text, order_by)
        size = tracking_check.page_size(
            "page_size",
            page_size,
            limits.SEARCH_MODELS_DEFAULT_PAGE,
            limits.SEARCH_MODELS_MAX_PAGE,
        )
        return self.store.search_registered_models(filter_text, order_by, size, page_token)

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        name = check.model_name("name", name)
        wanted = [check.stage(f"stages[{i}]", s) for i, s in enumerate(stages)]
        return self.store.get_latest_versions(name, wanted)

    # Aliases

    def set_alias(
        self, name: str, alias: str, version: int, request_id: str = ""
    ) -> tuple[ModelVersion, int]:
        """Points the alias at the version; returns that version and the version the
        alias pointed at before (0 when it is new)."""
        name = check.model_name("name", name)
        alias = check.alias("alias", alias)
        check.version("version", version)
        tracking_check.request_id(request_id)
        previous = self.store.set_alias(name, alias, version, request_id)
        return self.store.get_model_version(name, version), previous

    def delete_alias(self, name: str, alias: str, request_id: str = "") -> None:
        name = check.model_name("name", name)
        alias = check.alias("alias", alias)
        tracking_check.request_id(request_id)
        self.store.delete_alias(name, alias, request_id)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        name = check.model_name("name", name)
        return self.store.get_model_version_by_alias(name, check.alias("alias", alias))

    # Model versions

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str = "",
        run_link: str = "",
        description: str = "",
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> ModelVersion:
        name = check.model_name("name", name)
        check.uri_text("source", source, limits.MAX_SOURCE_LENGTH)
        if run_id:
            tracking_check.run_id("run_id", run_id)
        check.run_link("run_link", run_link)
        check.description("description", description)
        check.tags("tags", tags)
        tracking_check.request_id(request_id)
        location, run_id = self._locate(source, run_id)
        new = NewVersion(
            name=name,
            source=source,
            storage_location=location,
            run_id=run_id,
            run_link=run_link,
            description=description,
            tags=list(tags),
        )
        return self.store.create_model_version(new, request_id)

    def _locate(self, source: str, run_id: str) -> tuple[str, str]:
        """Where a source's bytes are, and the run to record (the source's own run when
        `run_id` is empty)."""
        logged = self._logged_model(source)
        if logged is not None:
            return logged.artifact_location, run_id or logged.source_run_id
        if not uris.is_registry_uri(source):
            check.inside_root("source", source, self.artifact_root)
            return source, run_id
        parsed = uris.parse(source, "source")
        if isinstance(parsed, uris.RunUri) and run_id and parsed.run_id != run_id:
            raise invalid(
                "run_id",
                f"is {run_id} but the source names run {parsed.run_id}; give the same run, "
                "or leave run_id empty",
            )
        found = self.resolve(parsed, "source")
        return found.artifact_uri, run_id or found.run_id

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        name = check.model_name("name", name)
        return self.store.get_model_version(name, check.version("version", version))

    def update_model_version(
        self,
        name: str,
        version: int,
        description: str,
        expected_last_updated_timestamp: int = 0,
        request_id: str = "",
    ) -> ModelVersion:
        name = check.model_name("name", name)
        check.version("version", version)
        check.description("description", description)
        _check_expected(expected_last_updated_timestamp)
        tracking_check.request_id(request_id)
        return self.store.update_model_version(
            name, version, description, expected_last_updated_timestamp, request_id
        )

    def delete_model_version(self, name: str, version: int, request_id: str = "") -> None:
        name = check.model_name("name", name)
        check.version("version", version)
        tracking_check.request_id(request_id)
        self.store.delete_model_version(name, version, request_id)

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, request_id: str = ""
    ) -> None:
        name = check.model_name("name", name)
        check.version("version", version)
        check.tag("tag", key, value)
        tracking_check.request_id(request_id)
        self.store.set_model_version_tag(name, version, key, value, request_id)

    def delete_model_version_tag(
        self, name: str, version: int, key: str, request_id: str = ""
    ) -> None:
        name = check.model_name("name", name)
        check.version("version", version)
        tracking_check.key("key", key)
        tracking_check.request_id(request_id)
        self.store.delete_model_version_tag(name, version, key, request_id)

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing_versions: bool = False,
        request_id: str = "",
    ) -> ModelVersion:
        name = check.model_name("name", name)
        check.version("version", version)
        stage = check.stage("stage", stage)
        if archive_existing_versions and stage not in ACTIVE_STAGES:
            raise invalid(
                "archive_existing_versions",
                f"only applies to a transition to {' or '.join(ACTIVE_STAGES)}, not {stage}",
            )
        tracking_check.request_id(request_id)
        return self.store.transition_stage(
            name, version, stage, archive_existing_versions, request_id
        )

    def search_model_versions(
        self,
        filter_text: str = "",
        order_by: Sequence[str] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ModelVersion]:
        _check_search(filter_text, order_by)
        size = _version_page_size(page_size)
        return self.store.search_model_versions(filter_text, order_by, size, page_token)

    def get_download_uri(self, name: str, version: int) -> str:
        found = self.get_model_version(name, version)
        return uris.served(found.storage_location, self.artifact_root)

    # Lineage and URIs

    def list_run_model_versions(
        self, run_id: str, page_size: int = 0, page_token: str = ""
    ) -> Page[ModelVersion]:
        """The versions registered from a run, by model name, newest version first."""
        tracking_check.run_id("run_id", run_id)
        size = _version_page_size(page_size)
        self.tracking.get_run_info(run_id)
        return self.store.search_model_versions("", (), size, page_token, run_id=run_id)

    def _logged_model(self, source: str) -> LoggedModel | None:
        """The logged model a `models:/<model id>` source names, or None for other sources."""
        if self.logged_models is None or not source.lower().startswith("models:/"):
            return None
        model_id = source[len("models:/") :].rstrip("/")
        if not is_model_id(model_id):
            return None
        return self.logged_models.get_logged_model(model_id)

    def resolve(self, uri: str | uris.ParsedUri, field_path: str = "uri") -> Resolution:
        logged = self._logged_model(uri) if isinstance(uri, str) else None
        if logged is not None:
            # Checked on the way out like every other stored location (defence in depth).
            location = uris.served(logged.artifact_location, self.artifact_root)
            return Resolution(location, None, logged.source_run_id)
        return uris.resolve(
            uri,
            registry=self.store,
            tracking=self.tracking,
            artifact_root=self.artifact_root,
            field_path=field_path,
        )


def _check_search(filter_text: str, order_by: Sequence[str]) -> None:
    tracking_check.text("filter", filter_text, tracking_limits.MAX_FILTER_LENGTH)
    tracking_check.count("order_by", order_by, tracking_limits.MAX_ORDER_BY_CLAUSES)


def _check_expected(value: int) -> None:
    if value < 0:
        raise invalid("expected_last_updated_timestamp", f"{value} is negative")


def _version_page_size(page_size: int) -> int:
    return tracking_check.page_size(
        "page_size",
        page_size,
        limits.SEARCH_VERSIONS_DEFAULT_PAGE,
        limits.SEARCH_VERSIONS_MAX_PAGE,
    )
