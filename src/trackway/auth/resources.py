"""From what a request names to the resources that carry permissions.

Permissions live on experiments and registered models. Everything else leads to one
of them: a run or a logged model to its experiment, an artifact scope to its run or
experiment, a `models:/` or `runs:/` URI to the model or run it names, and a model
version's source to the experiment whose artifact folder holds it.

Input is checked with the services' own validation functions, so a malformed id is
the same INVALID_ARGUMENT here as in the service, and a resource that does not exist
is NOT_FOUND (MLflow's clients rely on that: `set_experiment` creates the experiment
when `get-by-name` answers RESOURCE_DOES_NOT_EXIST).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trackway.auth.rules import Kind
from trackway.errors import NotFound, invalid
from trackway.registry import uris as registry_uris
from trackway.registry import validation as registry_check
from trackway.rest.uris import ArtifactUris
from trackway.store.auth_store import SqlAuthStore
from trackway.tracking import validation as check
from trackway.tracking.logged_models import is_model_id

_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Target:
    """A resource that carries permissions: an experiment (by id), a registered model
    (by id, with the name it was asked by), a user (SELF rules), or nothing but the
    admin role (`ADMIN_ONLY`: a location that no experiment holds)."""

    kind: str
    key: int | str
    name: str = ""


EXPERIMENT = "experiment"
MODEL = "model"
USER = "user"
ADMIN_ONLY = Target("admin", "")


class Resolver:
    def __init__(
        self,
        store: SqlAuthStore,
        artifact_root: str,
        locate: Callable[[str], tuple[str, str]] | None = None,
    ) -> None:
        """`locate` maps a path of MLflow's artifact proxy to (run id, experiment id),
        one of them set (the proxy's own Locator)."""
        self._store = store
        self._uris = ArtifactUris(artifact_root)
        self._root = artifact_root.rstrip("/")
        self._locate = locate
        # Which experiment holds a run or a logged model never changes: cached.
        self._runs: dict[str, int] = {}
        self._logged: dict[str, int] = {}

    def targets(self, kind: Kind, field: str, value: Any, caller: str) -> list[Target]:
        """The resources behind one request field's `value` (a string, a list of
        strings, or a (run_id, experiment_id) pair for scopes)."""
        handler = _HANDLERS[kind]
        return handler(self, field, value, caller)

    # Experiments and what lives in them

    def _experiment(self, field: str, value: Any, caller: str) -> list[Target]:
        eid = check.experiment_id(field, str(value))
        return [Target(EXPERIMENT, eid)]

    def _experiments(self, field: str, value: Any, caller: str) -> list[Target]:
        ids = {check.experiment_id(f"{field}[{i}]", str(e)) for i, e in enumerate(value)}
        return [Target(EXPERIMENT, eid) for eid in sorted(ids)]

    def _experiment_name(self, field: str, value: Any, caller: str) -> list[Target]:
        if not value:
            raise invalid(field, "is required")
        eid = self._store.experiment_named(str(value))
        if eid is None:
            raise NotFound(f"experiment {str(value)[:200]!r} does not exist")
        return [Target(EXPERIMENT, eid)]

    def experiment_of_run(self, field: str, run_id: str) -> int:
        check.run_id(field, run_id)
        found = self._runs.get(run_id)
        if found is None:
            found = self._store.experiment_of_run(run_id)
            if found is None:
                raise NotFound(f"run {run_id} does not exist")
            _remember(self._runs, run_id, found)
        return found

    def _run(self, field: str, value: Any, caller: str) -> list[Target]:
        return [Target(EXPERIMENT, self.experiment_of_run(field, str(value)))]

    def _runs_of(self, field: str, value: Any, caller: str) -> list[Target]:
        ids = sorted({self.experiment_of_run(f"{field}[{i}]", r) for i, r in enumerate(value)})
        return [Target(EXPERIMENT, eid) for eid in ids]

    def experiment_of_logged_model(self, field: str, model_id: str) -> int:
        if not model_id:
            raise invalid(field, "is required")
        found = self._logged.get(model_id)
        if found is None:
            found = self._store.experiment_of_logged_model(model_id)
            if found is None:
                raise NotFound(f"logged model {model_id[:64]!r} does not exist")
            _remember(self._logged, model_id, found)
        return found

    def _logged_model(self, field: str, value: Any, caller: str) -> list[Target]:
        return [Target(EXPERIMENT, self.experiment_of_logged_model(field, str(value)))]

    def _logged_models(self, field: str, value: Any, caller: str) -> list[Target]:
        ids = {self.experiment_of_logged_model(f"{field}[{i}]", m) for i, m in enumerate(value)}
        return [Target(EXPERIMENT, eid) for eid in sorted(ids)]

    def _scope(self, field: str, value: Any, caller: str) -> list[Target]:
        run_id, experiment_id = value
        if run_id:
            return self._run(f"{field}.run_id", run_id, caller)
        if experiment_id:
            return self._experiment(f"{field}.experiment_id", experiment_id, caller)
        raise invalid(field, "must name a run_id or an experiment_id")

    def _upload(self, field: str, value: Any, caller: str) -> list[Target]:
        session_id, run_id, experiment_id = value
        if session_id:
            return []  # the random session id is the capability; see rules.SESSION
        return self._scope(f"{field}.scope", (run_id, experiment_id), caller)

    def _artifact_path(self, field: str, value: Any, caller: str) -> list[Target]:
        if self._locate is None:
            raise RuntimeError("artifact proxy paths need the proxy's locator")
        return self._scope(field, self._locate(str(value)), caller)

    # Registered models, URIs and sources

    def _model(self, field: str, value: Any, caller: str) -> list[Target]:
        name = registry_check.model_name(field, str(value))
        model_id = self._store.model_id(name)
        if model_id is None:
            raise NotFound(f"registered model {name!r} does not exist")
        return [Target(MODEL, model_id, name)]

    def _model_uri(self, field: str, value: Any, caller: str) -> list[Target]:
        text = str(value)
        logged = _logged_model_id(text)
        if logged:
            return self._logged_model(field, logged, caller)
        parsed = registry_uris.parse(text, field)
        if isinstance(parsed, registry_uris.RunUri):
            return self._run(field, parsed.run_id, caller)
        return self._model(field, parsed.name, caller)

    def _source(self, field: str, value: Any, caller: str) -> list[Target]:
        """What a version's source points into. A plain location needs READ on every
        experiment whose artifact folder contains it; one that no experiment holds
        (nothing the API writes goes there) is for admins only."""
        text = str(value)
        if _logged_model_id(text) or registry_uris.is_registry_uri(text):
            return self._model_uri(field, text, caller)
        location = self._uris.from_client(text)
        registry_check.inside_root(field, location, self._root)
        below = location.rstrip("/")[len(self._root) + 1 :].split("/")
        folders = [f"{self._root}/{'/'.join(below[:k])}" for k in range(1, len(below) + 1)]
        holders = self._store.experiments_at(folders + [f + "/" for f in folders])
        if not holders:
            return [ADMIN_ONLY]
        return [Target(EXPERIMENT, eid) for eid in sorted(set(holders))]

    # Users (SELF rules)

    def _user(self, field: str, value: Any, caller: str) -> list[Target]:
        return [Target(USER, str(value) or caller)]

    def _token(self, field: str, value: Any, caller: str) -> list[Target]:
        if not value:
            raise invalid(field, "is required")
        owner = self._store.owner_of_token(str(value))
        if owner is None:
            raise NotFound(f"token {str(value)[:64]!r} does not exist")
        return [Target(USER, owner)]


def _logged_model_id(text: str) -> str:
    """The id of a `models:/<logged model id>` URI, or ""."""
    if not text.lower().startswith("models:/"):
        return ""
    candidate = text[len("models:/") :].rstrip("/")
    return candidate if is_model_id(candidate) else ""


def _remember(cache: dict[str, int], key: str, value: int) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


_HANDLERS: dict[Kind, Callable[[Resolver, str, Any, str], list[Target]]] = {
    Kind.EXPERIMENT: Resolver._experiment,
    Kind.EXPERIMENTS: Resolver._experiments,
    Kind.EXPERIMENT_NAME: Resolver._experiment_name,
    Kind.RUN: Resolver._run,
    Kind.RUNS: Resolver._runs_of,
    Kind.LOGGED_MODEL: Resolver._logged_model,
    Kind.LOGGED_MODELS: Resolver._logged_models,
    Kind.MODEL: Resolver._model,
    Kind.SCOPE: Resolver._scope,
    Kind.UPLOAD: Resolver._upload,
    Kind.ARTIFACT_PATH: Resolver._artifact_path,
    Kind.MODEL_URI: Resolver._model_uri,
    Kind.SOURCE: Resolver._source,
    Kind.USER: Resolver._user,
    Kind.TOKEN: Resolver._token,
}
