"""MLflow 3's logged models, kept as small JSON documents in the experiment's artifacts.

MLflow 3's `log_model` cannot run without `/mlflow/logged-models`: it creates a model,
uploads the files to the model's own artifact location, and registers `models:/<id>`.
Trackway's services have no logged-model entity, so this module keeps just enough of one
for those clients: a document at `models/<id>/logged-model.json` in the experiment's
artifact scope (written and read through ArtifactService), beside the model's files at
`models/<id>/artifacts/`, the layout MLflow uses. The experiment id is part of the model
id (`m-<experiment id>-<32 hex>`), so a model is found without an index.

Limits of this shim: documents are rewritten whole under a per-process lock (with
`--workers` above 1, two processes changing one model's tags at once may lose one
change); search reads every document of the experiments it is given and supports only
`=` and `!=` on name, model_id, source_run_id, status and model_type, `tags.<key>` and
`params.<key>`, joined by AND.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

from trackway.artifacts.service import ArtifactService, Scope
from trackway.errors import NotFound, invalid
from trackway.rest import jsonio
from trackway.rest.uris import ArtifactUris
from trackway.search import decode_page_token, encode_page_token, query_fingerprint
from trackway.tracking import limits
from trackway.tracking import validation as check
from trackway.tracking.service import TrackingService

DOCUMENT = "logged-model.json"
STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
MAX_MODEL_METRICS = 10_000
SEARCH_MAX_RESULTS = 1000
_ID = re.compile(r"m-([0-9]{1,18})-([0-9a-f]{32})")
_CLAUSE = re.compile(
    r"^\s*(?:attributes?\.)?(?P<field>[\w.]+|`[^`]+`)\s*(?P<op>=|!=)\s*"
    r"(?P<q>['\"])(?P<value>.*)(?P=q)\s*$",
    re.DOTALL,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_ATTRIBUTES = ("name", "model_id", "source_run_id", "status", "model_type")


def parse_id(model_id: str) -> str:
    """The experiment id inside a model id; NotFound for an id this server never made."""
    match = _ID.fullmatch(model_id)
    if match is None:
        raise NotFound(f"logged model {model_id[:80]!r} does not exist")
    return match.group(1)


class LoggedModels:
    def __init__(
        self, tracking: TrackingService, artifacts: ArtifactService, uris: ArtifactUris
    ) -> None:
        self._t = tracking
        self._artifacts = artifacts
        self._uris = uris
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # Documents

    def _lock(self, model_id: str) -> threading.Lock:
        with self._guard:
            if len(self._locks) > 10_000:
                self._locks.clear()
            return self._locks.setdefault(model_id, threading.Lock())

    def _save(self, doc: dict[str, Any]) -> None:
        body = jsonio.dumps(doc)
        self._artifacts.upload(
            Scope(experiment_id=doc["experiment_id"]),
            f"models/{doc['model_id']}/{DOCUMENT}",
            [body],
            size=len(body),
            content_type="application/json",
        )

    def get(self, model_id: str, *, allow_deleted: bool = False) -> dict[str, Any]:
        eid = parse_id(model_id)
        try:
            _, chunks = self._artifacts.download(
                Scope(experiment_id=eid), f"models/{model_id}/{DOCUMENT}"
            )
            doc = jsonio.loads(b"".join(chunks))
        except NotFound:
            raise NotFound(f"logged model {model_id!r} does not exist") from None
        if doc.get("deleted") and not allow_deleted:
            raise NotFound(f"logged model {model_id!r} was deleted")
        return dict(doc)

    def _update(self, model_id: str, change: Any) -> dict[str, Any]:
        with self._lock(model_id):
            doc = self.get(model_id)
            change(doc)
            doc["last_updated_timestamp_ms"] = _now()
            self._save(doc)
        return doc

    # Operations

    def create(
        self,
        experiment_id: str,
        name: str,
        model_type: str,
        source_run_id: str,
        params: list[tuple[str, str]],
        tags: list[tuple[str, str]],
    ) -> dict[str, Any]:
        exp = self._t.get_experiment(experiment_id)
        if source_run_id:
            self._t.get_run(source_run_id)
        check.text("name", name, limits.MAX_RUN_NAME_LENGTH)
        check.text("model_type", model_type, limits.MAX_RUN_NAME_LENGTH)
        check.params("params", params, limits.MAX_BATCH_PARAMS)
        check.tags("tags", tags, limits.MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH)
        model_id = f"m-{exp.experiment_id}-{uuid.uuid4().hex}"
        now = _now()
        doc = {
            "model_id": model_id,
            "experiment_id": exp.experiment_id,
            "name": name or f"model-{model_id[-8:]}",
            "artifact_location": f"{exp.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
            "creation_timestamp_ms": now,
            "last_updated_timestamp_ms": now,
            "status": STATUSES[0],
            "status_message": "",
            "model_type": model_type,
            "source_run_id": source_run_id,
            "tags": dict(tags),
            "params": dict(params),
            "metrics": [],
        }
        self._save(doc)
        return doc

    def finalize(self, model_id: str, status: str) -> dict[str, Any]:
        if status not in STATUSES[1:]:
            raise invalid("status", f"{status!r} is not one of {', '.join(STATUSES[1:])}")
        return self._update(model_id, lambda doc: doc.__setitem__("status", status))

    def delete(self, model_id: str) -> None:
        self._update(model_id, lambda doc: doc.__setitem__("deleted", True))

    def set_tags(self, model_id: str, tags: list[tuple[str, str]]) -> dict[str, Any]:
        check.tags("tags", tags, limits.MAX_BATCH_TAGS, limits.MAX_RUN_TAG_VALUE_LENGTH)
        return self._update(model_id, lambda doc: doc["tags"].update(tags))

    def delete_tag(self, model_id: str, key: str) -> None:
        check.key("key", key)
        self._update(model_id, lambda doc: doc["tags"].pop(key, None))

    def log_params(self, model_id: str, params: list[tuple[str, str]]) -> None:
        check.params("params", params, limits.MAX_BATCH_PARAMS)
        self._update(model_id, lambda doc: doc["params"].update(params))

    def add_metrics(
        self, model_id: str, run_id: str, points: list[tuple[str, float, int, int]]
    ) -> None:
        """Metrics MLflow links to a model (its `log_model` re-sends the run's metrics of
        the model's step with the model id); they are kept on the model, not the run."""
        check.run_id("run_id", run_id)
        check.metric_points("metrics", points)

        def add(doc: dict[str, Any]) -> None:
            for key, value, timestamp, step in points:
                doc["metrics"].append(
                    {
                        "key": key,
                        "value": jsonio.number(value),
                        "timestamp": timestamp,
                        "step": step,
                        "run_id": run_id,
                    }
                )
            del doc["metrics"][:-MAX_MODEL_METRICS]

        self._update(model_id, add)

    def search(
        self, experiment_ids: list[str], filter_text: str, max_results: int, page_token: str
    ) -> tuple[list[dict[str, Any]], str]:
        if not experiment_ids:
            raise invalid("experiment_ids", "must name at least one experiment")
        wanted = _parse_filter(filter_text)
        size = check.page_size("max_results", max_results, 100, SEARCH_MAX_RESULTS)
        fingerprint = query_fingerprint("logged-models", experiment_ids, filter_text)
        offset = 0
        if page_token:
            (offset,) = decode_page_token(page_token, fingerprint)
            if not isinstance(offset, int) or offset < 0:
                raise invalid("page_token", "is not a token of this search")
        found = []
        for eid in experiment_ids:
            for doc in self._documents(eid):
                if not doc.get("deleted") and all(_matches(doc, *c) for c in wanted):
                    found.append(doc)
        found.sort(key=lambda d: (-int(d["creation_timestamp_ms"]), d["model_id"]))
        page = found[offset : offset + size]
        more = offset + size < len(found)
        token = encode_page_token(fingerprint, [offset + size]) if more else ""
        return page, token

    def _documents(self, experiment_id: str) -> list[dict[str, Any]]:
        scope = Scope(experiment_id=experiment_id)
        docs = []
        token = ""
        while True:
            folders, token, _ = self._artifacts.list(scope, "models", 10_000, token)
            for folder in folders:
                model_id = folder.path.rsplit("/", 1)[-1]
                if folder.is_dir and _ID.fullmatch(model_id):
                    try:
                        docs.append(self.get(model_id, allow_deleted=True))
                    except NotFound:
                        continue
            if not token:
                return docs

    # JSON

    def to_json(self, doc: dict[str, Any]) -> dict[str, Any]:
        info = {
            "model_id": doc["model_id"],
            "experiment_id": doc["experiment_id"],
            "name": doc["name"],
            "creation_timestamp_ms": doc["creation_timestamp_ms"],
            "last_updated_timestamp_ms": doc["last_updated_timestamp_ms"],
            "artifact_uri": self._uris.to_client(doc["artifact_location"]),
            "status": doc["status"],
            "status_message": doc["status_message"],
            "tags": [{"key": k, "value": v} for k, v in doc["tags"].items()],
        }
        for name in ("model_type", "source_run_id"):
            if doc.get(name):
                info[name] = doc[name]
        data = {
            "params": [{"key": k, "value": v} for k, v in doc["params"].items()],
            "metrics": doc["metrics"],
        }
        return {"info": info, "data": data}


def _now() -> int:
    return int(time.time() * 1000)


def _parse_filter(text: str) -> list[tuple[str, str, str]]:
    clauses = []
    for part in _AND.split(text.strip()) if text.strip() else []:
        match = _CLAUSE.match(part)
        field = match.group("field").strip("`") if match else ""
        known = field in _ATTRIBUTES or field.startswith(("tags.", "params."))
        if match is None or not known:
            raise invalid(
                "filter",
                f"{part[:100]!r} is not supported; logged models filter with = or != on "
                f"{', '.join(_ATTRIBUTES)}, tags.<key> or params.<key>, joined by AND",
            )
        clauses.append((field, match.group("op"), match.group("value")))
    return clauses


def _matches(doc: dict[str, Any], field: str, op: str, value: str) -> bool:
    if field.startswith("tags."):
        found = doc["tags"].get(field[5:])
    elif field.startswith("params."):
        found = doc["params"].get(field[7:])
    else:
        found = doc.get(field) or ""
        if field == "status":
            found = str(found).removeprefix("LOGGED_MODEL_")
            value = value.removeprefix("LOGGED_MODEL_")
    return (found == value) if op == "=" else (found != value)
