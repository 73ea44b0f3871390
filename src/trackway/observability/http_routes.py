"""Route labels for HTTP metrics and spans: a template or a prefix, never the raw path.

Paths carry run ids, artifact paths and whatever a scanner tries; a label per path
would grow without bound. A label is instead one of:

- the template of a `/v1/` route, as its protos' `google.api.http` rules spell it
  (`/v1/runs/{run_id}`), or `/v1/*` for the rest below `/v1/` (artifact bytes, misses);
- an MLflow endpoint (`/api/2.0/mlflow/runs/get`), with a logged model's id folded to
  `{model_id}`. The endpoint names come from the request, so they are trusted only
  when the gateway did not answer 404: it answers 404 for a path that is no endpoint
  (and for a missing resource, which is then counted under the prefix alone);
- a fixed path (`/health`, `/metrics`, ...) or prefix (`/ui/*`, the artifact proxy's);
- `other`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from trackway.rest.app import API_PREFIXES, ARTIFACT_PREFIXES
from trackway.rest.http_rules import PathTemplate
from trackway.rest.openapi import PATH as OPENAPI_PATH
from trackway.rest.transcode import PREFIX as NATIVE_PREFIX
from trackway.rest.transcode import transcoded_bindings
from trackway.ui.assets import ASSET_PREFIX

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FIXED = frozenset({"/", "/index.html", "/health", "/version", "/metrics", OPENAPI_PATH})
_WORD = r"[a-z]+(?:-[a-z]+)*"
_MLFLOW_ENDPOINT = re.compile(rf"{_WORD}(?:/(?:{_WORD}|\{{model_id\}}|\{{key\}})){{0,3}}")
_LOGGED_MODELS = "logged-models"
_MAX_ENDPOINT = 64


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


class RouteLabels:
    """Labels the requests of a gateway whose `/v1/` routes serve `services`."""

    def __init__(self, services: Iterable[str] | None = None) -> None:
        # Templates by (method, first segment below /v1/), to try a few per request.
        self._native: dict[tuple[str, str], list[tuple[PathTemplate, str]]] = {}
        for binding in transcoded_bindings(services):
            template = binding.template
            first = template.segments[1] if len(template.segments) > 1 else ""
            key = (binding.method, first)
            self._native.setdefault(key, []).append((template, template.openapi_path()))
        for candidates in self._native.values():
            candidates.sort(key=lambda found: found[0].specificity, reverse=True)

    def route(self, method: str, path: str, status: int) -> str:
        if path in _FIXED:
            return path
        if path.startswith(NATIVE_PREFIX):
            return self._native_route(method, path)
        for prefix in API_PREFIXES:
            if path.startswith(prefix):
                return prefix + self._mlflow_endpoint(path[len(prefix) :], status)
        for prefix in ARTIFACT_PREFIXES:
            if path.startswith(prefix):
                return prefix + "*"
        if path.startswith(ASSET_PREFIX):
            return ASSET_PREFIX + "*"
        return "other"

    def _native_route(self, method: str, path: str) -> str:
        first = path[len(NATIVE_PREFIX) :].split("/", 1)[0].split(":", 1)[0]
        for template, label in self._native.get((method, first), ()):
            if template.match(path) is not None:
                return label
        return NATIVE_PREFIX + "*"

    @staticmethod
    def _mlflow_endpoint(tail: str, status: int) -> str:
        if status == 404:
            return "*"
        parts = tail.split("/", 4)
        if parts[0] == _LOGGED_MODELS and len(parts) > 1 and parts[1] != "search":
            parts[1] = "{model_id}"
            if len(parts) == 4:
                parts[3] = "{key}"
            tail = "/".join(parts)
        if len(tail) > _MAX_ENDPOINT or not _MLFLOW_ENDPOINT.fullmatch(tail):
            return "*"
        return tail
