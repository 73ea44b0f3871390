"""The HTTP door's one enforcement point: an ASGI middleware around the whole app.

It wraps everything the HTTP port serves (`/metrics` included, which the observability
layer answers before the gateway), finds each request's rule in `http_rules` by
matching the path the way the gateway dispatches it, authenticates the caller, and
checks the rule's needs with the same `Fields` reading as the MLflow handlers (a JSON
body is read here, then handed on unchanged). Unknown routes are for admins only.

`/v1/` is authenticated here and authorized by the gRPC interceptor behind the
transcoder, which forwards the request's `authorization`; with client certificates
(`--auth mtls`) the loopback call has none, so the gate vouches for the caller it
authenticated (see `Authenticator.vouch`), replacing any such value the client sent.

Refusals use each route family's error format: MLflow's `{"error_code", "message"}`
with 401/403 (and RESOURCE_DOES_NOT_EXIST 404 and so on for what the check finds), and
a google.rpc.Status JSON below `/v1/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import orjson
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from trackway.auth import http_rules
from trackway.auth.access import Authorizer
from trackway.auth.authenticator import MTLS, Authenticator
from trackway.auth.context import acting_as
from trackway.auth.entities import Principal
from trackway.auth.errors import PermissionDenied, Unauthenticated
from trackway.auth.http_rules import HttpRule
from trackway.auth.rules import Access, Kind, Need
from trackway.errors import ERROR_DOMAIN, TrackwayError, invalid
from trackway.rest import errors as rest_errors
from trackway.rest import request_body
from trackway.rest.app import API_PREFIXES, ARTIFACT_PREFIXES
from trackway.rest.fields import Fields
from trackway.rest.openapi import PATH as OPENAPI_PATH
from trackway.rest.transcode import PREFIX as NATIVE_PREFIX
from trackway.rest.transcode_errors import status_json
from trackway.ui.assets import UiAssets

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

NATIVE, MLFLOW = "native", "mlflow"
CLIENT_CN = "trackway_client_cn"  # in scope["extensions"]["tls"], set by rest.server


def route_rule(method: str, path: str) -> tuple[HttpRule, dict[str, str], str]:
    """A request's rule, the values its URL holds, and its error format, matching in
    the order the gateway (and the observability layer before it) dispatch."""
    if path.startswith(NATIVE_PREFIX):
        if method == "GET" and path == OPENAPI_PATH:
            return http_rules.OPENAPI, {}, NATIVE
        return http_rules.NATIVE, {}, NATIVE
    plain = http_rules.PLAIN.get((method, path))
    if plain is not None:
        return plain, {}, MLFLOW
    if UiAssets.serves(method, path):
        return http_rules.PUBLIC_UI, {}, MLFLOW
    for prefix in API_PREFIXES:
        if path.startswith(prefix):
            tail = path[len(prefix) :]
            found = http_rules.MLFLOW.get((method, tail))
            if found is not None:
                return found, {}, MLFLOW
            shape = http_rules.mlflow_logged_model_shape(tail)
            if shape is not None and (method, shape[0]) in http_rules.MLFLOW_LOGGED_MODELS:
                return http_rules.MLFLOW_LOGGED_MODELS[(method, shape[0])], shape[1], MLFLOW
            return http_rules.UNKNOWN, {}, MLFLOW
    for prefix in ARTIFACT_PREFIXES:
        if path.startswith(prefix):
            shape = http_rules.proxy_shape(method, path[len(prefix) :])
            if shape is not None and (method, shape[0]) in http_rules.PROXY:
                return http_rules.PROXY[(method, shape[0])], shape[1], MLFLOW
            return http_rules.UNKNOWN, {}, MLFLOW
    return http_rules.UNKNOWN, {}, MLFLOW


class HttpGate:
    def __init__(
        self,
        app: App,
        authenticator: Authenticator,
        authorizer: Authorizer,
        *,
        max_body_bytes: int = 64 << 20,
        threads: int = 64,
    ) -> None:
        self._app = app
        self._authenticator = authenticator
        self._authorizer = authorizer
        self._max_body = max_body_bytes
        self._threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    async def _offload(self, func: Callable[..., Any], *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        return await anyio.to_thread.run_sync(partial(func, *args), limiter=self._limiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        http_rule, from_path, door = route_rule(method, path)
        if http_rule.rule.access is Access.PUBLIC:
            await self._app(scope, receive, send)
            return
        try:
            caller: Principal = await self._offload(self._authenticate, scope)
            if door == NATIVE:
                if self._authenticator.mode == MTLS:
                    scope = _with_authorization(scope, self._authenticator.vouch(caller))
            else:
                receive = await self._authorize(caller, http_rule, from_path, scope, receive)
        except TrackwayError as exc:
            await _refuse(send, exc, door, f"{method} {path}")
            return
        except rest_errors.RestError as exc:
            status, body = rest_errors.to_response(exc, f"{method} {path}")
            await _send(send, status, body, [])
            return
        with acting_as(caller):
            await self._app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> Principal:
        authorization = ""
        for key, value in scope.get("headers", ()):
            if key.lower() == b"authorization":
                authorization = value.decode("latin-1")
                break
        tls = (scope.get("extensions") or {}).get("tls") or {}
        return self._authenticator.authenticate(authorization, str(tls.get(CLIENT_CN) or ""))

    async def _authorize(
        self,
        caller: Principal,
        http_rule: HttpRule,
        from_path: dict[str, str],
        scope: Scope,
        receive: Receive,
    ) -> Receive:
        """Checks the rule; returns the `receive` that the app should use (the body,
        when it was read here, replayed)."""
        rule = http_rule.rule
        if caller.admin or rule.access is Access.AUTHENTICATED:
            return receive
        fields: Fields | None = None
        if any(not n.field.startswith("path:") for n in rule.needs):
            if scope["method"] == "GET":
                fields = Fields.from_query(scope.get("query_string", b""))
            else:
                body = await self._body(receive)
                receive = _replay(body, receive)
                fields = Fields.from_body(body)

        def check() -> None:
            values = http_values(rule.needs, fields, from_path)
            self._authorizer.require(caller, rule, values)

        await self._offload(check)
        return receive

    async def _body(self, receive: Receive) -> bytes:
        return await request_body.read(
            receive,
            self._max_body,
            too_large=rest_errors.body_too_large,
            gone=rest_errors.malformed,
        )


def http_values(
    needs: tuple[Need, ...], fields: Fields | None, from_path: dict[str, str]
) -> list[tuple[Need, Any]]:
    """Each need's value in an HTTP request, read as the MLflow handlers read it."""
    found: list[tuple[Need, Any]] = []
    for need in needs:
        value = _http_value(need, fields, from_path)
        if need.optional and not value:
            continue
        found.append((need, value))
    return found


def _http_value(need: Need, fields: Fields | None, from_path: dict[str, str]) -> Any:
    if need.field.startswith("path:"):
        return from_path[need.field[len("path:") :]]
    assert fields is not None
    if need.kind is Kind.RUN and need.field == "run_id":
        return fields.run_id(required=not need.optional)
    if need.kind in (Kind.EXPERIMENTS, Kind.RUNS):
        return fields.texts(need.field)
    if need.kind is Kind.LOGGED_MODELS:
        # `metrics[].model_id`: the ids that the objects of a list name.
        name, _, key = need.field.partition("[].")
        ids = []
        for i, item in enumerate(fields.objects(name)):
            value = item.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise invalid(f"{name}[{i}].{key}", "must be a string")
            ids.append(value)
        return ids
    return fields.text(need.field)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _with_authorization(scope: Scope, value: str) -> Scope:
    kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
    return {**scope, "headers": [*kept, (b"authorization", value.encode("latin-1"))]}


async def _refuse(send: Send, exc: TrackwayError, door: str, route: str) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, Unauthenticated):
        headers.append((b"www-authenticate", b'Bearer realm="trackway"'))
    if door == NATIVE:
        status = _NATIVE_STATUS.get(type(exc), 500)
        info = error_details_pb2.ErrorInfo(
            reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata
        )
        packed = any_pb2.Any()
        packed.Pack(info)
        body = status_json(
            status_pb2.Status(code=exc.code.value[0], message=exc.message, details=[packed])
        )
        await _send(send, status, body, headers)
        return
    if isinstance(exc, (Unauthenticated, PermissionDenied)):
        status = 401 if isinstance(exc, Unauthenticated) else 403
        body = orjson.dumps({"error_code": exc.reason, "message": exc.message})
    else:
        status, body = rest_errors.to_response(exc, route)
    await _send(send, status, body, headers)


_NATIVE_STATUS = {Unauthenticated: 401, PermissionDenied: 403}


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
