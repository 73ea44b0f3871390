"""Tracking URIs that list replicas (`grpc://h1:p1,h2:p2`) and the gRPC target the SDK
dials for them: one address list, balanced round-robin."""

from __future__ import annotations

import pytest

from trackway.client import channel, uri
from trackway.errors import InvalidArgument, Unavailable


def test_a_list_of_replicas_parses_in_order() -> None:
    target = uri.parse("grpc://10.0.0.1:7000, 10.0.0.2 ,[::1]:7002/")
    assert target.servers == [("10.0.0.1", 7000), ("10.0.0.2", 50051), ("::1", 7002)]
    assert target.address == "10.0.0.1:7000"  # the first, for messages and one-server use
    assert target.uri == "grpc://10.0.0.1:7000,10.0.0.2:50051,[::1]:7002"
    assert uri.parse("grpcs://a:1,b:2").tls
    assert uri.parse("a:1,b:2").alternates == (("b", 2),)


@pytest.mark.parametrize(
    "text", ["grpc://a:1,", "grpc://,a:1", "grpc://a:1,b:port", "grpc://a:1,u@b:2", "grpc://a,b/p"]
)
def test_a_bad_list_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        uri.parse(text)


def test_one_server_is_dialled_by_name_and_replicas_by_address_list() -> None:
    assert channel.grpc_target(uri.parse("grpc://example.com:6000")) == "example.com:6000"
    listed = channel.grpc_target(uri.parse("grpc://127.0.0.1:1,localhost:2,127.0.0.1:1"))
    assert listed == "ipv4:127.0.0.1:1,127.0.0.1:2"  # names resolved, duplicates dropped
    assert channel.grpc_target(uri.parse("grpc://[::1]:1,[::2]:2")) == "ipv6:[::1]:1,[::2]:2"


def test_replicas_of_both_address_families_or_none_that_resolve_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="IPv4 and IPv6"):
        channel.grpc_target(uri.parse("grpc://127.0.0.1:1,[::1]:2"))
    with pytest.raises(Unavailable, match="no replica resolves"):
        channel.grpc_target(uri.parse("grpc://nowhere.invalid:1,nothing.invalid:2"))
    # One that does not resolve is left out while another does.
    assert channel.grpc_target(uri.parse("grpc://nowhere.invalid:1,127.0.0.1:2")) == (
        "ipv4:127.0.0.1:2"
    )
