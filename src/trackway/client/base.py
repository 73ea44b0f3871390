"""What every part of TrackwayClient shares: the channel, the stubs and the retry loop."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from trackway.client import channel as channels
from trackway.client import uri as uris
from trackway.client.errors import RETRYABLE, code_of, from_rpc_error
from trackway.errors import InvalidArgument
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc
from trackway.gen.registry.v1 import model_registry_service_pb2_grpc
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc

R = TypeVar("R")

DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRY_SECONDS = 60.0
# How long calls keep retrying an unreachable server when the code does not say: a job
# that would rather fail fast (or wait out a longer upgrade) sets it.
RETRY_SECONDS_ENV = "TRACKWAY_RETRY_SECONDS"
# ABORTED is not here: for unary calls it means a failed precondition check, which the
# same request would fail again.
_RETRY_CODES = RETRYABLE - {grpc.StatusCode.ABORTED}


def new_request_id() -> str:
    return uuid.uuid4().hex


def _retry_seconds() -> float:
    text = os.environ.get(RETRY_SECONDS_ENV, "").strip()
    if not text:
        return DEFAULT_RETRY_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise InvalidArgument(
            f"{RETRY_SECONDS_ENV}={text!r}: expected seconds, a number of 0 or more"
        )
    return value


class ClientBase:
    """Owns the channel. gRPC channels and stubs are thread-safe, so is the client."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_seconds: float | None = None,
    ) -> None:
        """`timeout` bounds each attempt of a call; `retry_seconds` is how long a call
        keeps retrying while the server is unreachable (0: fail at once; default:
        TRACKWAY_RETRY_SECONDS, else 60). Retries are safe: every write carries a
        request_id, which the server deduplicates."""
        self.tracking_uri = uris.resolve(tracking_uri)
        self.target = uris.parse(self.tracking_uri)
        self.timeout = timeout
        self.retry_seconds = _retry_seconds() if retry_seconds is None else retry_seconds
        self._channel = channels.open_channel(self.target)
        self._tracking = tracking_service_pb2_grpc.TrackingServiceStub(self._channel)
        self._registry = model_registry_service_pb2_grpc.ModelRegistryServiceStub(self._channel)
        self._artifacts = artifact_service_pb2_grpc.ArtifactServiceStub(self._channel)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    def _call(self, rpc: Callable[..., R], request: Any) -> R:
        """One unary call with the client's timeout, retried as in `_retrying`."""
        return self._retrying(lambda: rpc(request, timeout=self.timeout))

    def _retrying(self, action: Callable[[], R]) -> R:
        """Runs an action that makes calls, retrying it with backoff and jitter on
        retryable codes until `retry_seconds` have passed; failures leave as typed
        exceptions. Only for actions that are safe to repeat (reads, request ids)."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return action()
            except grpc.RpcError as exc:
                pause = delay * (0.5 + random.random())
                if code_of(exc) not in _RETRY_CODES or time.monotonic() + pause > deadline:
                    raise from_rpc_error(exc, self.target.uri) from None
                time.sleep(pause)
                delay = min(delay * 2, 5.0)
