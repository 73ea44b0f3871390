"""Every HTTP route of the server, mapped onto the rule table.

Each MLflow endpoint and each route of the artifact proxy names the gRPC method whose
rule it follows (`via`), so one operation has one permission through every door; only
where MLflow's request names its resources differently (`experiment_name` for `name`,
a run instead of a scope, a logged model id in the path) does the route spell its own
needs, and `custom` checks at import that they ask for the same level as the method's.

Needs whose field starts with `path:` read a part of the URL (a logged model's id, an
artifact path); the others read the request's fields as the MLflow handlers do (the
query string for GET, the JSON body otherwise), with the same `Fields` code.

The routes of `/v1/` are the native API's, enforced by the gRPC interceptor behind the
transcoder; the UI's files, `/health` and `/version` are public; `/metrics` needs a user.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from trackway.auth import rules
from trackway.auth.entities import Permission
from trackway.auth.rules import Kind, Need, Rule

_T = "/trackway.tracking.v1.TrackingService/"
_A = "/trackway.artifacts.v1.ArtifactService/"
_R = "/trackway.registry.v1.ModelRegistryService/"
_L = "/trackway.tracking.v1.LoggedModelService/"

R, E, M = Permission.READ, Permission.EDIT, Permission.MANAGE


@dataclass(frozen=True)
class HttpRule:
    """A route's rule: the access and needs to check, and where they come from (the
    gRPC method it follows, or a note)."""

    rule: Rule
    source: str

    @property
    def needs(self) -> tuple[Need, ...]:
        return self.rule.needs


def via(method: str, **renamed: str) -> HttpRule:
    """The rule of gRPC `method`, with request fields renamed (proto name=MLflow name)."""
    rule = rules.RULES[method]
    needs = tuple(replace(n, field=renamed.get(n.field, n.field)) for n in rule.needs)
    return HttpRule(replace(rule, needs=needs), method)


def custom(method: str, *needs: Need) -> HttpRule:
    """The access of gRPC `method` with needs of the route's own; they must ask for the
    same level as the method does."""
    rule = rules.RULES[method]
    found = max((n.permission for n in needs), default=Permission.NONE)
    if found != rule.permission:
        raise AssertionError(
            f"{method}: the HTTP needs ask for {found.name}, not {rule.permission.name}"
        )
    return HttpRule(replace(rule, needs=needs), method)


def _run(level: Permission) -> Need:
    return Need(Kind.RUN, "run_id", level)


# MLflow's endpoints below /api/2.0/mlflow/ (and /ajax-api/2.0/mlflow/), by (method,
# path below the prefix), as the gateway's route table has them.
_MLFLOW_METRIC_MODELS = Need(Kind.LOGGED_MODELS, "metrics[].model_id", E, optional=True)

MLFLOW: dict[tuple[str, str], HttpRule] = {
    ("POST", "experiments/create"): via(_T + "CreateExperiment"),
    ("GET", "experiments/get"): via(_T + "GetExperiment"),
    ("GET", "experiments/get-by-name"): via(_T + "GetExperimentByName", name="experiment_name"),
    ("GET", "experiments/search"): via(_T + "SearchExperiments"),
    ("POST", "experiments/search"): via(_T + "SearchExperiments"),
    ("POST", "experiments/update"): via(_T + "UpdateExperiment"),
    ("POST", "experiments/delete"): via(_T + "DeleteExperiment"),
    ("POST", "experiments/restore"): via(_T + "RestoreExperiment"),
    ("POST", "experiments/set-experiment-tag"): via(_T + "SetExperimentTag"),
    ("POST", "experiments/delete-experiment-tag"): via(_T + "DeleteExperimentTag"),
    ("POST", "runs/create"): custom(_T + "CreateRun", Need(Kind.EXPERIMENT, "experiment_id", E)),
    ("GET", "runs/get"): via(_T + "GetRun"),
    ("POST", "runs/update"): via(_T + "UpdateRun"),
    ("POST", "runs/delete"): via(_T + "DeleteRun"),
    ("POST", "runs/restore"): via(_T + "RestoreRun"),
    ("POST", "runs/search"): via(_T + "SearchRuns"),
    ("POST", "runs/log-metric"): custom(
        _T + "LogMetric", _run(E), Need(Kind.LOGGED_MODEL, "model_id", E, optional=True)
    ),
    ("POST", "runs/log-parameter"): via(_T + "LogParam"),
    ("POST", "runs/set-tag"): via(_T + "SetTag"),
    ("POST", "runs/delete-tag"): via(_T + "DeleteTag"),
    ("POST", "runs/log-batch"): custom(_T + "LogBatch", _run(E), _MLFLOW_METRIC_MODELS),
    ("POST", "runs/log-inputs"): via(_T + "LogInputs"),
    # Appends to the run's `mlflow.log-model.history` tag.
    ("POST", "runs/log-model"): via(_T + "SetTag"),
    ("POST", "runs/outputs"): custom(
        _T + "LogInputs",
        _run(E),
        Need(Kind.LOGGED_MODELS, "models[].model_id", R, optional=True),
    ),
    ("GET", "metrics/get-history"): via(_T + "GetMetricHistory"),
    ("GET", "metrics/get-history-bulk-interval"): via(_T + "GetMetricHistoryBulk"),
    ("GET", "artifacts/list"): custom(_A + "ListArtifacts", _run(R)),
    ("POST", "registered-models/create"): via(_R + "CreateRegisteredModel"),
    ("POST", "registered-models/rename"): via(_R + "RenameRegisteredModel"),
    ("PATCH", "registered-models/update"): via(_R + "UpdateRegisteredModel"),
    ("DELETE", "registered-models/delete"): via(_R + "DeleteRegisteredModel"),
    ("GET", "registered-models/get"): via(_R + "GetRegisteredModel"),
    ("GET", "registered-models/search"): via(_R + "SearchRegisteredModels"),
    ("POST", "registered-models/get-latest-versions"): via(_R + "GetLatestVersions"),
    ("GET", "registered-models/get-latest-versions"): via(_R + "GetLatestVersions"),
    ("POST", "registered-models/set-tag"): via(_R + "SetRegisteredModelTag"),
    ("DELETE", "registered-models/delete-tag"): via(_R + "DeleteRegisteredModelTag"),
    ("POST", "registered-models/alias"): via(_R + "SetRegisteredModelAlias"),
    ("DELETE", "registered-models/alias"): via(_R + "DeleteRegisteredModelAlias"),
    ("GET", "registered-models/alias"): via(_R + "GetModelVersionByAlias"),
    ("POST", "model-versions/create"): via(_R + "CreateModelVersion"),
    ("PATCH", "model-versions/update"): via(_R + "UpdateModelVersion"),
    ("POST", "model-versions/transition-stage"): via(_R + "TransitionModelVersionStage"),
    ("DELETE", "model-versions/delete"): via(_R + "DeleteModelVersion"),
    ("GET", "model-versions/get"): via(_R + "GetModelVersion"),
    ("GET", "model-versions/search"): via(_R + "SearchModelVersions"),
    ("GET", "model-versions/get-download-uri"): via(_R + "GetModelVersionDownloadUri"),
    ("POST", "model-versions/set-tag"): via(_R + "SetModelVersionTag"),
    ("DELETE", "model-versions/delete-tag"): via(_R + "DeleteModelVersionTag"),
    ("POST", "logged-models"): via(_L + "CreateLoggedModel"),
    ("POST", "logged-models/search"): via(_L + "SearchLoggedModels"),
}

_LOGGED = Need(Kind.LOGGED_MODEL, "path:model_id", R)

# MLflow's logged-model endpoints with the model's id in the path, by (method, the
# path's shape): `{id}`, `{id}/tags`, `{id}/params`, `{id}/tags/{key}`.
MLFLOW_LOGGED_MODELS: dict[tuple[str, str], HttpRule] = {
    ("GET", "{id}"): custom(_L + "GetLoggedModel", _LOGGED),
    ("PATCH", "{id}"): custom(_L + "FinalizeLoggedModel", replace(_LOGGED, permission=E)),
    ("DELETE", "{id}"): custom(_L + "DeleteLoggedModel", replace(_LOGGED, permission=M)),
    ("PATCH", "{id}/tags"): custom(_L + "SetLoggedModelTags", replace(_LOGGED, permission=E)),
    ("POST", "{id}/params"): custom(_L + "LogLoggedModelParams", replace(_LOGGED, permission=E)),
    ("DELETE", "{id}/tags/{key}"): custom(
        _L + "DeleteLoggedModelTag", replace(_LOGGED, permission=E)
    ),
}

_PATH = Need(Kind.ARTIFACT_PATH, "path:path", R)

# The artifact proxy below /api/2.0/mlflow-artifacts/, by (method, route shape), as
# ArtifactProxy.handle dispatches; `{path}` is the rest of the URL.
PROXY: dict[tuple[str, str], HttpRule] = {
    ("GET", "artifacts"): custom(_A + "ListArtifacts", Need(Kind.ARTIFACT_PATH, "path", R)),
    ("GET", "artifacts/{path}"): custom(_A + "Download", _PATH),
    ("PUT", "artifacts/{path}"): custom(_A + "Upload", replace(_PATH, permission=E)),
    ("DELETE", "artifacts/{path}"): custom(_A + "DeleteArtifact", replace(_PATH, permission=M)),
    ("POST", "mpu/create/{path}"): custom(_A + "CreateUploadSession", replace(_PATH, permission=E)),
    ("POST", "mpu/complete/{path}"): custom(
        _A + "CreateUploadSession", replace(_PATH, permission=E)
    ),
    ("POST", "mpu/abort/{path}"): custom(_A + "CreateUploadSession", replace(_PATH, permission=E)),
    # A part names only its upload's random id, the capability that mpu/create (EDIT)
    # handed out; mpu/complete checks EDIT on the folder again.
    ("PUT", "mpu/parts/{path}"): via(_A + "GetUploadSession"),
    ("GET", "presigned/{path}"): custom(_A + "Download", _PATH),
}

PUBLIC_UI = HttpRule(rules.public("the UI's files hold no data; the UI calls the API"), "ui")
PUBLIC_PROBE = HttpRule(rules.public("probes and load balancers ask without credentials"), "plain")
OPENAPI = HttpRule(rules.public("the API's description, as in proto/"), "openapi")
METRICS = HttpRule(rules.authenticated("any user; Prometheus sends a bearer token"), "metrics")
NATIVE = HttpRule(
    rules.authenticated(
        "authenticated here, then the gRPC interceptor applies the RPC's rule: the "
        "transcoder forwards the credentials (or the gate vouches for a certificate)"
    ),
    "v1",
)
# Served by nothing the gate knows of: only admins get past, and the app answers.
UNKNOWN = HttpRule(rules.admin(), "unknown")

PLAIN = {
    ("GET", "/health"): PUBLIC_PROBE,
    ("GET", "/version"): PUBLIC_PROBE,
    ("GET", "/metrics"): METRICS,
}


def mlflow_logged_model_shape(tail: str) -> tuple[str, dict[str, str]] | None:
    """The shape of `logged-models/<id>[/...]` and its path values, as
    LoggedModelRoutes.route splits it, or None for other paths."""
    prefix = "logged-models/"
    if not tail.startswith(prefix):
        return None
    parts = tail[len(prefix) :].split("/", 2)
    model_id, rest = parts[0], parts[1:]
    if not model_id:
        return None
    shapes = {0: "{id}", 1: "{id}/" + (rest[0] if rest else ""), 2: "{id}/tags/{key}"}
    if len(rest) == 2 and rest[0] != "tags":
        return None
    return shapes[len(rest)], {"model_id": model_id}


def proxy_shape(method: str, tail: str) -> tuple[str, dict[str, str]] | None:
    """The shape of an artifact proxy path and its `{path}`, as ArtifactProxy.handle
    dispatches (None where it answers ENDPOINT_NOT_FOUND)."""
    if tail == "artifacts":
        return "artifacts", {}
    for prefix in ("artifacts/", "presigned/"):
        if tail.startswith(prefix):
            return prefix + "{path}", {"path": tail[len(prefix) :]}
    if tail.startswith("mpu/"):
        action, _, rest = tail[len("mpu/") :].partition("/")
        if action in ("create", "complete", "abort", "parts"):
            return f"mpu/{action}/{{path}}", {"path": rest}
    return None
