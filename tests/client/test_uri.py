"""Tracking URIs: grpc://, grpcs:// and bare host:port for gRPC; http(s):// for the
HTTP/JSON API; anything else is refused clearly."""

from __future__ import annotations

import pytest

from trackway.client import uri
from trackway.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "address", "tls"),
    [
        ("grpc://example.com:6000", "example.com:6000", False),
        ("GRPC://example.com:6000/", "example.com:6000", False),
        ("grpcs://example.com:443", "example.com:443", True),
        ("example.com:6000", "example.com:6000", False),
        ("127.0.0.1:50051", "127.0.0.1:50051", False),
        ("grpc://example.com", "example.com:50051", False),
        ("grpc://[::1]:7000", "[::1]:7000", False),
    ],
)
def test_parse_accepts_grpc_targets(text: str, address: str, tls: bool) -> None:
    target = uri.parse(text)
    assert target.address == address
    assert target.tls is tls


@pytest.mark.parametrize(
    ("text", "address", "tls", "base_path"),
    [
        ("http://localhost:5000", "localhost:5000", False, ""),
        ("HTTP://localhost:5000/", "localhost:5000", False, ""),
        ("https://tracking.example.com", "tracking.example.com:443", True, ""),
        ("http://tracking.example.com", "tracking.example.com:80", False, ""),
        ("https://example.com/ml/trackway/", "example.com:443", True, "/ml/trackway"),
        ("http://[::1]:5000", "[::1]:5000", False, ""),
    ],
)
def test_parse_accepts_http_targets(text: str, address: str, tls: bool, base_path: str) -> None:
    target = uri.parse(text)
    assert target.http
    assert (target.address, target.tls, target.base_path) == (address, tls, base_path)
    assert uri.parse(target.uri) == target


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://localhost:5000/api/2.0/mlflow", "server's root"),
        ("http://localhost:5000/v1", "server's root"),
        ("http://localhost:5000?x=1", "without a query"),
        ("http://:5000", "names no host"),
    ],
)
def test_http_uris_name_the_server_root(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        uri.parse(text)


@pytest.mark.parametrize(
    "text", ["", "file:///tmp/mlruns", "sqlite:///x.db", "grpc://host:notaport", "grpc://h:1/p"]
)
def test_parse_refuses_everything_else(text: str) -> None:
    with pytest.raises(InvalidArgument):
        uri.parse(text)


def test_resolve_prefers_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(uri.TRACKING_URI_ENV, raising=False)
    assert uri.resolve(None) == uri.DEFAULT_TRACKING_URI
    monkeypatch.setenv(uri.TRACKING_URI_ENV, "grpc://env:1")
    assert uri.resolve(None) == "grpc://env:1"
    assert uri.resolve("grpc://arg:2") == "grpc://arg:2"
