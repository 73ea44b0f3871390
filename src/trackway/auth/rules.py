"""THE rule table: for every gRPC method of the server, who may call it.

Each rule is one of:

- PUBLIC: no credentials (health checks, reflection);
- AUTHENTICATED: any user. Creating an experiment or a registered model is such a call
  (the creator then gets MANAGE on it), and so are searches and lists, which return
  only what the caller may READ (`trackway.auth.visibility`);
- ADMIN: users with the admin role;
- SELF: an admin, or the user the request names (own record, own tokens);
- RESOURCE: a permission on each resource the request names, found through its
  `Need`s: an experiment id, a run or logged model (through its experiment), a
  registered model's name, an artifact scope, a model URI, a version's source.

Admins pass every rule. A method without a rule is refused for everyone but admins
(`rule_for` returns None and the doors deny), and tests/auth/test_coverage.py fails
when any method the server serves, over gRPC or HTTP, lacks one: MLflow's auth app
shipped routes without validators three times.

The HTTP door (`trackway.auth.http_rules`) maps MLflow's routes and the artifact proxy
onto these same rules, so each operation has one permission whatever the door.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from trackway.auth.entities import Permission


class Access(enum.Enum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    ADMIN = "admin"
    SELF = "self"
    RESOURCE = "resource"


class Kind(enum.Enum):
    """What a request field names, and so how the resource behind it is found."""

    EXPERIMENT = "experiment"  # an experiment id
    EXPERIMENTS = "experiments"  # repeated experiment ids
    EXPERIMENT_NAME = "experiment name"
    RUN = "run"  # a run id: its experiment
    RUNS = "runs"  # repeated run ids: each one's experiment
    LOGGED_MODEL = "logged model"  # a logged model id: its experiment
    LOGGED_MODELS = "logged models"  # repeated logged model ids
    MODEL = "registered model"  # a registered model's name
    SCOPE = "artifact scope"  # an ArtifactScope: its run's or its experiment
    UPLOAD = "upload header"  # an UploadHeader: its scope, or a session id
    ARTIFACT_PATH = "artifact path"  # MLflow's proxy: a path below the root (HTTP only)
    MODEL_URI = "model uri"  # models:/ or runs:/ (ResolveModelUri)
    SOURCE = "version source"  # a model version's source: what it points into
    USER = "user"  # a user name (SELF rules; empty means the caller)
    TOKEN = "token"  # a token id: its user (SELF rules)


@dataclass(frozen=True)
class Need:
    """A permission on the resource that the request field `field` names.

    `field` is a dotted path into the request message. For streaming requests, `when`
    names the oneof case of the message that carries the field: a message of another
    case needs nothing (a LogStream `open` has no run). An empty required field is
    refused as the service would refuse it (INVALID_ARGUMENT), never skipped."""

    kind: Kind
    field: str
    permission: Permission = Permission.READ
    when: str = ""
    # An optional field (a run a logged model came from): empty needs nothing.
    optional: bool = False


@dataclass(frozen=True)
class Rule:
    access: Access
    needs: tuple[Need, ...] = ()
    # Streaming requests: False checks the first message only (its header names the
    # target of the whole stream), True checks every message.
    each_message: bool = False
    # Why the rule is what it is, where that is not obvious.
    note: str = ""

    @property
    def permission(self) -> Permission:
        """The highest level the rule asks for (NONE when it names no resource)."""
        return max((n.permission for n in self.needs), default=Permission.NONE)


def public(note: str) -> Rule:
    return Rule(Access.PUBLIC, note=note)


def authenticated(note: str) -> Rule:
    return Rule(Access.AUTHENTICATED, note=note)


def admin() -> Rule:
    return Rule(Access.ADMIN)


def self_or_admin(need: Need) -> Rule:
    return Rule(Access.SELF, (need,))


def on(*needs: Need, each_message: bool = False, note: str = "") -> Rule:
    return Rule(Access.RESOURCE, needs, each_message, note)


R, E, M = Permission.READ, Permission.EDIT, Permission.MANAGE

CREATES = "any user may create; the creator gets MANAGE on what it creates"
FILTERED = "any user; results hold only what the caller may READ (post-filtered pages)"
SEARCH_IN = (
    "READ on each experiment named; naming none searches every experiment, and the "
    "results hold only what the caller may READ (post-filtered pages)"
)
SESSION = (
    "any user: the session id, random and handed out by CreateUploadSession (which "
    "needs EDIT), is the capability"
)


def experiment(permission: Permission, field: str = "experiment_id") -> Need:
    return Need(Kind.EXPERIMENT, field, permission)


def run(permission: Permission, field: str = "run_id", when: str = "") -> Need:
    return Need(Kind.RUN, field, permission, when)


def optional_run(field: str) -> Need:
    """READ on a run that the request may name (the run something came from)."""
    return Need(Kind.RUN, field, Permission.READ, optional=True)


def logged_model(permission: Permission, field: str = "model_id") -> Need:
    return Need(Kind.LOGGED_MODEL, field, permission)


def model(permission: Permission, field: str = "name") -> Need:
    return Need(Kind.MODEL, field, permission)


def scope(permission: Permission, field: str = "scope") -> Need:
    return Need(Kind.SCOPE, field, permission)


_TRACKING = "trackway.tracking.v1.TrackingService"
_ARTIFACTS = "trackway.artifacts.v1.ArtifactService"
_REGISTRY = "trackway.registry.v1.ModelRegistryService"
_LOGGED = "trackway.tracking.v1.LoggedModelService"
_ADMIN = "trackway.admin.v1.AdminService"

_BY_SERVICE: dict[str, dict[str, Rule]] = {
    _TRACKING: {
        "CreateExperiment": authenticated(CREATES),
        "GetExperiment": on(experiment(R)),
        "GetExperimentByName": on(Need(Kind.EXPERIMENT_NAME, "name", R)),
        "UpdateExperiment": on(experiment(E)),
        "DeleteExperiment": on(experiment(M)),
        "RestoreExperiment": on(experiment(M)),
        "PurgeExperiment": on(experiment(M)),
        "SetExperimentTag": on(experiment(E)),
        "DeleteExperimentTag": on(experiment(E)),
        "SearchExperiments": authenticated(FILTERED),
        "CreateRun": on(experiment(E), optional_run("parent_run_id")),
        "GetRun": on(run(R)),
        "UpdateRun": on(run(E)),
        "HeartbeatRun": on(run(E)),
        "DeleteRun": on(run(M)),
        "RestoreRun": on(run(M)),
        "SetTag": on(run(E)),
        "DeleteTag": on(run(E)),
        "LogParam": on(run(E)),
        "LogMetric": on(run(E)),
        "LogBatch": on(run(E)),
        "LogColumns": on(run(E)),
        "LogInputs": on(run(E)),
        "LogStream": on(
            run(E, "batch.run_id", when="batch"),
            each_message=True,
            note="every batch of the stream needs EDIT on its run",
        ),
        "GetMetricHistory": on(run(R)),
        "GetMetricHistoryBulk": on(Need(Kind.RUNS, "run_ids", R)),
        "SearchRuns": on(Need(Kind.EXPERIMENTS, "experiment_ids", R), note=SEARCH_IN),
    },
    _ARTIFACTS: {
        "Upload": on(
            Need(Kind.UPLOAD, "header", E, when="header"),
            note="EDIT on the header's scope; with a session id, " + SESSION,
        ),
        "CreateUploadSession": on(scope(E)),
        "GetUploadSession": authenticated(SESSION),
        "UploadFolder": on(Need(Kind.SCOPE, "start.scope", E, when="start")),
        "Download": on(scope(R)),
        "ListArtifacts": on(scope(R)),
        "StatArtifact": on(scope(R)),
        "DeleteArtifact": on(scope(M)),
    },
    _REGISTRY: {
        "CreateRegisteredModel": authenticated(CREATES),
        "GetRegisteredModel": on(model(R)),
        "RenameRegisteredModel": on(model(E)),
        "UpdateRegisteredModel": on(model(E)),
        "DeleteRegisteredModel": on(model(M)),
        "SetRegisteredModelTag": on(model(E)),
        "DeleteRegisteredModelTag": on(model(E)),
        "SearchRegisteredModels": authenticated(FILTERED),
        "GetLatestVersions": on(model(R)),
        "SetRegisteredModelAlias": on(model(E)),
        "DeleteRegisteredModelAlias": on(model(E)),
        "GetModelVersionByAlias": on(model(R)),
        "CreateModelVersion": on(
            model(E),
            optional_run("run_id"),
            Need(Kind.SOURCE, "source", R),
            note="READ on the source too: registering a version must not open someone "
            "else's files to the model's readers",
        ),
        "GetModelVersion": on(model(R)),
        "UpdateModelVersion": on(model(E)),
        "DeleteModelVersion": on(model(M)),
        "SetModelVersionTag": on(model(E)),
        "DeleteModelVersionTag": on(model(E)),
        "SearchModelVersions": authenticated(FILTERED),
        "TransitionModelVersionStage": on(model(E)),
        "GetModelVersionDownloadUri": on(model(R)),
        "ListRunModelVersions": on(
            run(R), note="versions of models the caller may not READ are left out"
        ),
        "ResolveModelUri": on(Need(Kind.MODEL_URI, "uri", R)),
    },
    _LOGGED: {
        "CreateLoggedModel": on(experiment(E), optional_run("source_run_id")),
        "GetLoggedModel": on(logged_model(R)),
        "FinalizeLoggedModel": on(logged_model(E)),
        "DeleteLoggedModel": on(logged_model(M)),
        "SetLoggedModelTags": on(logged_model(E)),
        "DeleteLoggedModelTag": on(logged_model(E)),
        "LogLoggedModelParams": on(logged_model(E)),
        "LogLoggedModelMetrics": on(logged_model(E), optional_run("run_id")),
        "SearchLoggedModels": on(Need(Kind.EXPERIMENTS, "experiment_ids", R)),
    },
    _ADMIN: {
        "GetCurrentUser": authenticated("any user may ask who they are"),
        "CreateUser": admin(),
        "GetUser": self_or_admin(Need(Kind.USER, "name")),
        "ListUsers": admin(),
        "UpdateUser": admin(),
        "DeleteUser": admin(),
        "CreateToken": self_or_admin(Need(Kind.USER, "user_name")),
        "ListTokens": self_or_admin(Need(Kind.USER, "user_name")),
        "RevokeToken": self_or_admin(Need(Kind.TOKEN, "token_id")),
        "GrantExperimentPermission": on(experiment(M)),
        "RevokeExperimentPermission": on(experiment(M)),
        "ListExperimentPermissions": on(experiment(M)),
        "GrantRegisteredModelPermission": on(model(M)),
        "RevokeRegisteredModelPermission": on(model(M)),
        "ListRegisteredModelPermissions": on(model(M)),
    },
    "grpc.health.v1.Health": {
        "Check": public("probes must work without credentials"),
        "Watch": public("probes must work without credentials"),
        "List": public("probes must work without credentials"),
    },
    "grpc.reflection.v1alpha.ServerReflection": {
        "ServerReflectionInfo": public("the API's shape is public (it is in proto/)"),
    },
}

RULES: Mapping[str, Rule] = {
    f"/{service}/{method}": rule
    for service, methods in _BY_SERVICE.items()
    for method, rule in methods.items()
}


def rule_for(method: str) -> Rule | None:
    """The rule of a full gRPC method name (`/package.Service/Method`), or None."""
    return RULES.get(method)
