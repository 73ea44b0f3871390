"""The gRPC door's one enforcement point: authenticate, then apply the method's rule.

It sits after the ErrorInterceptor, so its refusals leave as UNAUTHENTICATED or
PERMISSION_DENIED with an ErrorInfo, like every typed error. The caller is bound
(`trackway.auth.context`) while the handler runs, for the searches that filter by it
and the services that grant creators MANAGE.

Streams: a rule checks the first message of a client stream (an upload's header names
its target) or, for LogStream, every message (each batch names its run), before the
servicer sees it. A method without a rule is refused for everyone but admins, so a
new RPC is closed until someone writes its rule (and tests/auth/test_coverage.py fails
until then).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import Message

from trackway.auth import rules
from trackway.auth.access import Authorizer
from trackway.auth.authenticator import Authenticator
from trackway.auth.context import acting_as
from trackway.auth.entities import Principal
from trackway.auth.errors import PermissionDenied
from trackway.auth.rules import Access, Kind, Need, Rule
from trackway.errors import invalid
from trackway.server import handlers

Behavior = Callable[[Any, grpc.ServicerContext], Any]


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, authenticator: Authenticator, authorizer: Authorizer) -> None:
        self._authenticator = authenticator
        self._authorizer = authorizer

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        rule = rules.rule_for(method)
        if rule is not None and rule.access is Access.PUBLIC:
            return handler
        guard = _Guard(self, method, rule)
        wrappers = {
            "unary_unary": guard.unary,
            "unary_stream": guard.unary_streaming,
            "stream_unary": guard.streamed,
            "stream_stream": guard.streamed_streaming,
        }
        return handlers.rewrap(handler, lambda kind, behavior: wrappers[kind](behavior))

    def caller(self, context: grpc.ServicerContext) -> Principal:
        metadata = context.invocation_metadata() or ()
        authorization = next((str(v) for k, v in metadata if k == "authorization"), "")
        names = (context.auth_context() or {}).get("x509_common_name") or []
        name = names[0].decode("utf-8", "replace") if names else ""
        return self._authenticator.authenticate(authorization, name)

    def require(self, caller: Principal, method: str, rule: Rule | None, message: Any) -> None:
        if rule is None:
            if caller.admin:
                return
            raise PermissionDenied(
                f"{method} has no permission rule, so only admins may call it",
                metadata={"needs": "admin"},
            )
        self._authorizer.require(caller, rule, message_values(rule, message))


class _Guard:
    """The wrappers of one method's behavior."""

    def __init__(self, owner: AuthInterceptor, method: str, rule: Rule | None) -> None:
        self._owner = owner
        self._method = method
        self._rule = rule

    def unary(self, behavior: Behavior) -> Behavior:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            caller = self._owner.caller(context)
            self._owner.require(caller, self._method, self._rule, request)
            with acting_as(caller):
                return behavior(request, context)

        return run

    def unary_streaming(self, behavior: Behavior) -> Behavior:
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            caller = self._owner.caller(context)
            self._owner.require(caller, self._method, self._rule, request)
            with acting_as(caller):
                yield from behavior(request, context)

        return run

    def streamed(self, behavior: Behavior) -> Behavior:
        def run(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            caller = self._owner.caller(context)
            checked = self._checked(caller, requests)
            with acting_as(caller):
                return behavior(checked, context)

        return run

    def streamed_streaming(self, behavior: Behavior) -> Behavior:
        def run(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            caller = self._owner.caller(context)
            checked = self._checked(caller, requests)
            with acting_as(caller):
                yield from behavior(checked, context)

        return run

    def _checked(self, caller: Principal, requests: Iterator[Any]) -> Iterator[Any]:
        rule = self._rule
        if rule is not None and rule.each_message:
            return self._each(caller, requests)
        first = next(requests, None)
        if first is None:
            self._owner.require(caller, self._method, rule, None)
            return iter(())
        if rule is not None and rule.needs and not _applies(rule, first):
            wanted = " or ".join(sorted({n.when for n in rule.needs if n.when}))
            raise invalid(wanted, f"the first message of {self._method} must be `{wanted}`")
        self._owner.require(caller, self._method, rule, first)
        return itertools.chain((first,), requests)

    def _each(self, caller: Principal, requests: Iterator[Any]) -> Iterator[Any]:
        # Runs on whichever thread consumes the stream (LogStream reads on its own
        # thread), hence the caller captured here rather than read from the context.
        for request in requests:
            self._owner.require(caller, self._method, self._rule, request)
            yield request


def _applies(rule: Rule, message: Message) -> bool:
    return any(_case_matches(need, message) for need in rule.needs)


def _case_matches(need: Need, message: Any) -> bool:
    if not isinstance(message, Message):
        # Upload's decoder hands chunks over as raw views, never a header.
        return False
    if not need.when:
        return True
    field = message.DESCRIPTOR.fields_by_name.get(need.when)
    oneof = field.containing_oneof if field is not None else None
    if oneof is None:
        return message.HasField(need.when)
    return message.WhichOneof(oneof.name) == need.when


def message_values(rule: Rule, message: Any) -> list[tuple[Need, Any]]:
    """Each Need's value in a request message (nothing for an empty stream)."""
    if message is None:
        return []
    found: list[tuple[Need, Any]] = []
    for need in rule.needs:
        if not _case_matches(need, message):
            continue
        value = _value(need, _walk(message, need.field))
        if need.optional and not value:
            continue
        found.append((need, value))
    return found


def _walk(message: Any, path: str) -> Any:
    value = message
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _value(need: Need, raw: Any) -> Any:
    if need.kind is Kind.SCOPE:
        return (raw.run_id, raw.experiment_id)
    if need.kind is Kind.UPLOAD:
        return (raw.session_id, raw.scope.run_id, raw.scope.experiment_id)
    if need.kind in (Kind.EXPERIMENTS, Kind.RUNS, Kind.LOGGED_MODELS):
        return [str(v) for v in raw]
    return str(raw)
