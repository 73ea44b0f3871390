"""Tracking URIs: grpc:// and bare host:port are the SDK's; http:// is refused clearly."""

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


@pytest.mark.parametrize("text", ["http://localhost:5000", "https://tracking.example.com"])
def test_http_uris_are_refused_with_a_pointer_to_grpc(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"only supports grpc://"):
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
