"""The SDK over HTTP: a stand-in for a gRPC channel that speaks the server's `/v1/` API.

`http://` and `https://` tracking URIs reach the server's HTTP port, which transcodes
each unary RPC to HTTP/JSON (the protos' `google.api.http` rules). HttpChannel offers the
part of `grpc.Channel` that the generated stubs use, so TrackwayClient's methods, retry
loop and typed errors are the same for both transports: a call becomes one HTTP request
(`http_codec`), and a failure becomes an `HttpRpcError` carrying the server's
`google.rpc.Status`, as gRPC would.

The streaming RPCs have no HTTP/JSON form. Their callers check `is_http` and take the
HTTP way instead: the background logger sends LogColumns calls (`http_log_session`), and
artifacts move through the PUT and GET routes (`trackway.artifacts.http_transfer`).

Connections are kept alive, one per thread (http.client connections are not
thread-safe), and a connection the server closed while idle is replaced once before
the call counts as failed. Unreachable servers answer UNAVAILABLE and timeouts
DEADLINE_EXCEEDED, which the retry loop treats as it does gRPC's. Replicas listed with
commas are tried in turn when one cannot be reached. TLS uses TRACKWAY_TLS_CA and the
client certificate settings of `trackway.client.channel`; TRACKWAY_TOKEN goes out as
`Authorization: Bearer`.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

import grpc
from google.rpc import code_pb2, status_pb2

from trackway.client import http_codec
from trackway.client.channel import (
    TLS_CA_ENV,
    TLS_CLIENT_CERT_ENV,
    TLS_CLIENT_KEY_ENV,
    default_token,
)
from trackway.client.uri import Target, host_port
from trackway.errors import InvalidArgument

USER_AGENT = "trackway-python"
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
Body = bytes | IO[bytes] | Iterable[bytes] | None


def is_http(channel: object) -> bool:
    return isinstance(channel, HttpChannel)


class HttpRpcError(grpc.RpcError, grpc.Call):
    """A failed HTTP call in gRPC's shape: code, details, and the Status as trailers."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self._status = status

    def code(self) -> grpc.StatusCode:
        for code in grpc.StatusCode:
            if code.value[0] == self._status.code:
                return code
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._status.message

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return (("grpc-status-details-bin", self._status.SerializeToString()),)

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False

    def __str__(self) -> str:
        return f"{self.code().name}: {self._status.message}"


def rpc_error(code: int, message: str) -> HttpRpcError:
    return HttpRpcError(status_pb2.Status(code=code, message=message))


class HttpResponse:
    """An answer whose body is still to be read (`read(n)`), for downloads."""

    def __init__(
        self, response: http.client.HTTPResponse, abandon: Callable[[], None] = lambda: None
    ) -> None:
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self._response = response
        self._abandon = abandon

    def read(self, size: int = -1) -> bytes:
        try:
            # http.client reads to the connection's end for -1, but to the body's end for None.
            return self._response.read(None if size < 0 else size)
        except (OSError, http.client.HTTPException) as exc:
            raise rpc_error(code_pb2.UNAVAILABLE, f"the download broke off: {exc}") from None

    def close(self) -> None:
        """Closes the answer; one not read to its end takes its connection with it,
        since the rest of its body would otherwise be read as the next answer."""
        done = self._response.isclosed()
        self._response.close()
        if not done:
            self._abandon()


class HttpChannel:
    def __init__(self, target: Target, *, token: str | None = None) -> None:
        self.target = target
        token = default_token() if token is None else token
        self._auth = f"Bearer {token}" if token else ""
        self._ssl = _ssl_context() if target.tls else None
        self._local = threading.local()
        self._server = 0
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self._closed = False

    # What the generated stubs call

    def unary_unary(self, method: str, *_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        return _Unary(self, method)

    def unary_stream(self, method: str, *_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        return _GrpcOnly(method)

    def stream_unary(self, method: str, *_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        return _GrpcOnly(method)

    def stream_stream(self, method: str, *_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        return _GrpcOnly(method)

    def subscribe(self, callback: Callable[..., Any], try_to_connect: bool = False) -> None:
        pass

    def unsubscribe(self, callback: Callable[..., Any]) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def __enter__(self) -> HttpChannel:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Requests

    def call(self, method: str, path: str, body: Body = None, **options: Any) -> bytes:
        """`open`, then the whole body of the 2xx answer; raises HttpRpcError."""
        response = self.open(method, path, body, **options)
        try:
            return response.read()
        finally:
            response.close()

    def open(
        self,
        method: str,
        path: str,
        body: Body = None,
        *,
        headers: Mapping[str, str] | None = None,
        metadata: Iterable[tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Sends one request and returns a 2xx answer unread; raises HttpRpcError."""
        if self._closed:
            raise ValueError("the client is closed")
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if body is not None and not isinstance(body, bytes | bytearray):
            sent.setdefault("Content-Type", "application/octet-stream")
        elif body is not None:
            sent.setdefault("Content-Type", "application/json")
        for key, value in metadata or ():
            sent[key] = value
        if self._auth and not any(k.lower() == "authorization" for k in sent):
            sent["Authorization"] = self._auth
        url = self.target.base_path + path
        connection, response = self._send(method, url, body, sent, timeout)
        if 200 <= response.status < 300:
            return HttpResponse(response, lambda: self._drop(connection))
        try:
            data = response.read()
        except (OSError, http.client.HTTPException):
            data = b""
        finally:
            response.close()
        if 300 <= response.status < 400:
            # Not followed: a redirect would resend writes and tokens somewhere unasked.
            where = response.getheader("location", "(no Location header)")
            raise rpc_error(
                code_pb2.FAILED_PRECONDITION,
                f"{self.target.uri} answers HTTP {response.status}, a redirect to {where}; "
                "set the tracking URI to where the API is",
            )
        raise HttpRpcError(http_codec.status_from_json(response.status, data))

    def _send(
        self,
        method: str,
        url: str,
        body: Body,
        headers: dict[str, str],
        timeout: float | None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        rewindable = body is None or isinstance(body, bytes | bytearray)
        for attempt in range(len(self.target.servers) + 1):
            connection, reused = self._connection(timeout)
            try:
                connection.request(method, url, body=body, headers=headers)
                return connection, connection.getresponse()
            except TimeoutError:
                self._drop(connection)
                raise rpc_error(
                    code_pb2.DEADLINE_EXCEEDED, f"no answer within {timeout} s"
                ) from None
            except _STALE as exc:
                self._drop(connection)
                if reused and rewindable:
                    continue  # the server closed an idle connection: one more try
                raise rpc_error(code_pb2.UNAVAILABLE, f"the connection broke: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(connection)
                if rewindable and attempt < len(self.target.alternates):
                    self._next_server()
                    continue
                raise rpc_error(
                    code_pb2.UNAVAILABLE,
                    f"cannot reach the tracking server at {self._address()}: {exc}",
                ) from None
        raise rpc_error(code_pb2.UNAVAILABLE, f"cannot reach {self.target.uri}")

    def _connection(self, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        server = self._server
        if connection is not None and getattr(self._local, "server", server) == server:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            return connection, connection.sock is not None
        if connection is not None:
            self._drop(connection)
        host, port = self.target.servers[server]
        if self._ssl is not None:
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self._local.connection = connection
        self._local.server = server
        with self._lock:
            self._connections.append(connection)
        return connection, False

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)

    def _next_server(self) -> None:
        with self._lock:
            self._server = (self._server + 1) % len(self.target.servers)

    def _address(self) -> str:
        host, port = self.target.servers[self._server]
        return f"{'https' if self.target.tls else 'http'}://{host_port(host, port)}"


class _Unary:
    """One unary RPC over HTTP, called as a gRPC multicallable is."""

    def __init__(self, channel: HttpChannel, grpc_path: str) -> None:
        self._channel = channel
        self._path = grpc_path
        self._rules = http_codec.bindings(grpc_path)

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Iterable[tuple[str, str]] | None = None,
        **_options: Any,
    ) -> Any:
        if not self._rules:
            raise _GrpcOnly(self._path).error()
        try:
            call = http_codec.encode_any(self._rules, request)
        except http_codec.MissingPathField as exc:
            raise rpc_error(code_pb2.INVALID_ARGUMENT, str(exc)) from None
        headers = {"Accept": f"{http_codec.PROTOBUF}, {http_codec.JSON};q=0.5"}
        if call.body is not None:
            headers["Content-Type"] = call.content_type
        response = self._channel.open(
            call.method, call.path, call.body, headers=headers, metadata=metadata, timeout=timeout
        )
        try:
            data = response.read()
        finally:
            response.close()
        return http_codec.decode(self._path, data, response.headers.get("content-type", ""))


class _GrpcOnly:
    def __init__(self, grpc_path: str) -> None:
        self._path = grpc_path

    def error(self) -> HttpRpcError:
        return rpc_error(
            code_pb2.UNIMPLEMENTED,
            f"{self._path.strip('/')} is gRPC-only: it has no HTTP/JSON form; use a "
            "grpc:// tracking URI for it",
        )

    def __call__(self, *_args: Any, **_kwargs: Any) -> Any:
        raise self.error()


def _ssl_context() -> ssl.SSLContext:
    ca = os.environ.get(TLS_CA_ENV, "").strip()
    cert = os.environ.get(TLS_CLIENT_CERT_ENV, "").strip()
    key = os.environ.get(TLS_CLIENT_KEY_ENV, "").strip()
    if bool(cert) != bool(key):
        raise InvalidArgument(
            f"{TLS_CLIENT_CERT_ENV} and {TLS_CLIENT_KEY_ENV} go together: set both, or neither"
        )
    try:
        context = ssl.create_default_context(cafile=os.path.expanduser(ca) if ca else None)
        if cert:
            context.load_cert_chain(os.path.expanduser(cert), os.path.expanduser(key))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"TLS settings ({TLS_CA_ENV}, client certificate): {exc}") from None
    return context
