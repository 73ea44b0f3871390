"""Searches that only return what the caller may READ, and MANAGE for creators.

Both doors call the same services, so the services are where this happens: with
authentication on, the server builds these subclasses in place of TrackingService and
RegistryService, and the gRPC servicers and MLflow's REST routes alike get them.

Filtering is by post-filtering pages, not in the store's SQL: the search engine's
queries stay as they are, and a grant changing between two pages never invalidates a
page token (the tokens pin the query, and the query does not depend on grants). A page
is fetched with the room left in it, so every row the store returns is either kept or
known to be invisible, and the store's keyset token after it is exact. The price: a
page may hold fewer items than asked for, even none, while `next_page_token` is set;
list until the token is empty (every client of ours does). At most MAX_FETCHES store
pages are read per call, which bounds a search by someone who can see little of a big
server.

Runs and logged models are searched within experiments: naming experiments needs READ
on each (the rule table checks it), and a run search naming none is post-filtered by
the experiments the caller may READ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from trackway.auth.access import Authorizer
from trackway.auth.context import current
from trackway.auth.entities import Permission, Principal
from trackway.auth.errors import missing_credentials
from trackway.registry import limits as registry_limits
from trackway.registry.entities import ModelVersion, RegisteredModel
from trackway.registry.service import RegistryService
from trackway.store.auth_store import SqlAuthStore
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking import limits as tracking_limits
from trackway.tracking import validation as check
from trackway.tracking.entities import Experiment, Page, Run
from trackway.tracking.logged_models import LoggedModelService
from trackway.tracking.service import TrackingService

T = TypeVar("T")
MAX_FETCHES = 20


class Visibility:
    """What the caller may see, and the creator's claim on what they create."""

    def __init__(self, store: SqlAuthStore, authorizer: Authorizer) -> None:
        self._store = store
        self._authorizer = authorizer

    @staticmethod
    def caller() -> Principal:
        found = current()
        if found is None:
            # Only reachable through a door that forgot to authenticate: refuse.
            raise missing_credentials()
        return found

    def readable(self, caller: Principal) -> tuple[set[int], set[str]]:
        """The experiment ids and model names the caller may READ (one query)."""
        by_experiment, by_model = self._store.readable(caller.user_id)
        return (
            {e for e, level in by_experiment.items() if level >= Permission.READ},
            {m for m, level in by_model.items() if level >= Permission.READ},
        )

    def claim_experiment(self, experiment_id: str) -> None:
        caller = current()
        if caller is not None:
            self._store.claim_experiment(int(experiment_id), caller.user_id)
            self._authorizer.forget()

    def claim_model(self, name: str) -> None:
        caller = current()
        model_id = self._store.model_id(name)
        if caller is not None and model_id is not None:
            self._store.claim_model(model_id, caller.user_id)
            self._authorizer.forget()


def filtered_page(
    size: int,
    token: str,
    fetch: Callable[[int, str], Page[T]],
    visible: Callable[[T], bool],
) -> Page[T]:
    """Up to `size` visible items from successive store pages, and the store's token
    after the last page read (see the module's comment)."""
    kept: list[T] = []
    for _ in range(MAX_FETCHES):
        page = fetch(size - len(kept), token)
        kept.extend(item for item in page.items if visible(item))
        token = page.next_page_token
        if not token or len(kept) >= size:
            break
    return Page(kept, token)


class VisibleTrackingService(TrackingService):
    def __init__(self, store: SqlTrackingStore, visibility: Visibility) -> None:
        super().__init__(store)
        self._visibility = visibility

    def create_experiment(
        self,
        name: str,
        artifact_location: str = "",
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> Experiment:
        created = super().create_experiment(name, artifact_location, tags, request_id)
        self._visibility.claim_experiment(created.experiment_id)
        return created

    def search_experiments(
        self,
        filter_text: str = "",
        order_by: Sequence[str] = (),
        view: str = "active",
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[Experiment]:
        caller = self._visibility.caller()
        if caller.admin:
            return super().search_experiments(filter_text, order_by, view, page_size, page_token)
        size = check.page_size(
            "page_size",
            page_size,
            tracking_limits.SEARCH_EXPERIMENTS_DEFAULT_PAGE,
            tracking_limits.SEARCH_EXPERIMENTS_MAX_PAGE,
        )
        experiments, _ = self._visibility.readable(caller)
        return filtered_page(
            size,
            page_token,
            lambda n, t: super(VisibleTrackingService, self).search_experiments(
                filter_text, order_by, view, n, t
            ),
            lambda e: int(e.experiment_id) in experiments,
        )

    def search_runs(
        self,
        experiment_ids: Sequence[str] = (),
        filter_text: str = "",
        order_by: Sequence[str] = (),
        view: str = "active",
        page_size: int = 0,
        page_token: str = "",
        with_data: bool = True,
    ) -> Page[Run]:
        caller = self._visibility.caller()

        def fetch(n: int, t: str) -> Page[Run]:
            return super(VisibleTrackingService, self).search_runs(
                experiment_ids, filter_text, order_by, view, n, t, with_data
            )

        # Named experiments were each checked for READ by the door's rule.
        if caller.admin or experiment_ids:
            return fetch(page_size, page_token)
        size = check.page_size(
            "page_size",
            page_size,
            tracking_limits.SEARCH_RUNS_DEFAULT_PAGE,
            tracking_limits.SEARCH_RUNS_MAX_PAGE,
        )
        experiments, _ = self._visibility.readable(caller)
        if not experiments:
            return Page([], "")
        return filtered_page(
            size, page_token, fetch, lambda r: int(r.info.experiment_id) in experiments
        )


class VisibleRegistryService(RegistryService):
    def __init__(
        self,
        store: SqlRegistryStore,
        tracking: SqlTrackingStore,
        logged_models: LoggedModelService | None,
        visibility: Visibility,
    ) -> None:
        super().__init__(store, tracking, logged_models)
        self._visibility = visibility

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: Sequence[tuple[str, str]] = (),
        request_id: str = "",
    ) -> RegisteredModel:
        created = super().create_registered_model(name, description, tags, request_id)
        self._visibility.claim_model(created.name)
        return created

    def search_registered_models(
        self,
        filter_text: str = "",
        order_by: Sequence[str] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[RegisteredModel]:
        caller = self._visibility.caller()
        if caller.admin:
            return super().search_registered_models(filter_text, order_by, page_size, page_token)
        size = check.page_size(
            "page_size",
            page_size,
            registry_limits.SEARCH_MODELS_DEFAULT_PAGE,
            registry_limits.SEARCH_MODELS_MAX_PAGE,
        )
        _, models = self._visibility.readable(caller)
        return filtered_page(
            size,
            page_token,
            lambda n, t: super(VisibleRegistryService, self).search_registered_models(
                filter_text, order_by, n, t
            ),
            lambda m: m.name in models,
        )

    def search_model_versions(
        self,
        filter_text: str = "",
        order_by: Sequence[str] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ModelVersion]:
        caller = self._visibility.caller()
        if caller.admin:
            return super().search_model_versions(filter_text, order_by, page_size, page_token)
        _, models = self._visibility.readable(caller)
        return filtered_page(
            _version_page_size(page_size),
            page_token,
            lambda n, t: super(VisibleRegistryService, self).search_model_versions(
                filter_text, order_by, n, t
            ),
            lambda v: v.name in models,
        )

    def list_run_model_versions(
        self, run_id: str, page_size: int = 0, page_token: str = ""
    ) -> Page[ModelVersion]:
        caller = self._visibility.caller()
        if caller.admin:
            return super().list_run_model_versions(run_id, page_size, page_token)
        _, models = self._visibility.readable(caller)
        return filtered_page(
            _version_page_size(page_size),
            page_token,
            lambda n, t: super(VisibleRegistryService, self).list_run_model_versions(run_id, n, t),
            lambda v: v.name in models,
        )


def _version_page_size(page_size: int) -> int:
    return check.page_size(
        "page_size",
        page_size,
        registry_limits.SEARCH_VERSIONS_DEFAULT_PAGE,
        registry_limits.SEARCH_VERSIONS_MAX_PAGE,
    )
