"""`trackway health`: asks a server's grpc.health.v1 service whether it is SERVING.

Exits 0 when it is, 1 (with one line on stderr) when it is not or does not answer.
Made for container health checks: by default it asks this machine's server, on the
port that `trackway server` reads from TRACKWAY_GRPC_PORT.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from trackway.commands.common import guarded, one_line_errors
from trackway.config import ServerConfig, env_name


def _default_address() -> str:
    port = os.environ.get(env_name("--grpc-port")) or str(ServerConfig.grpc_port)
    return f"127.0.0.1:{port}"


def register(sub: Any) -> None:
    help_text = "check that a server (or a relay) answers its gRPC health check"
    p = one_line_errors(sub.add_parser("health", help=help_text, description=help_text))
    p.add_argument(
        "--address",
        default=_default_address(),
        help="host:port of the gRPC server (default 127.0.0.1 and TRACKWAY_GRPC_PORT, else 50051)",
    )
    p.add_argument(
        "--service", default="", help="one service's full name; default: the whole server"
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p.set_defaults(handler=guarded(_check))


def dispatch(args: argparse.Namespace) -> int:
    return int(args.handler(args))


def _check(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(args.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            raise RuntimeError(
                f"{args.address} did not answer its health check: {exc.code().name} "
                f"{exc.details() or ''}".rstrip()
            ) from None
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise RuntimeError(f"{args.address} is {status}")
    print(status)
    return 0
