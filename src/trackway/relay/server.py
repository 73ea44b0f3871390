"""Builds and runs a relay: `create_relay()` for tests, `serve()` for the CLI.

Handlers, in the order gRPC consults them: health and reflection (answered here, so
probes and grpcurl work while central is away), the local writes, then the proxy for
everything else. The relay has no store and no HTTP port of its own.
"""

from __future__ import annotations

import importlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from trackway.client.channel import open_channel
from trackway.client.uri import Target
from trackway.config import ServerConfig
from trackway.relay.forwarder import Forwarder
from trackway.relay.proxy import Proxy
from trackway.relay.servicer import LocalWrites
from trackway.relay.spool import Depth, Spool
from trackway.relay.target import parse_forward_to
from trackway.server import reflection, shutdown
from trackway.server.app import _address, _options

log = logging.getLogger(__name__)

# How long local calls may take to finish at shutdown: they only wait for the spool.
LOCAL_GRACE_SECONDS = 5.0


def service_names() -> list[str]:
    """Every service of Trackway's protos, with its generated module imported, so that
    reflection and the proxy find their descriptors."""
    data = (resources.files("trackway.gen") / "descriptors.binpb").read_bytes()
    names: list[str] = []
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        if not file.name.startswith("trackway/") or not file.service:
            continue
        module = file.name.removeprefix("trackway/").removesuffix(".proto").replace("/", ".")
        importlib.import_module(f"trackway.gen.{module}_pb2")
        names.extend(f"{file.package}.{service.name}" for service in file.service)
    return names


@dataclass
class RunningRelay:
    """A started relay and what it owns; `stop()` shuts it down in order."""

    server: grpc.Server
    port: int
    target: Target
    spool: Spool
    forwarder: Forwarder
    channel: grpc.Channel
    health: health.HealthServicer
    _stopped: threading.Event = field(default_factory=threading.Event)

    def depth(self) -> Depth:
        """What the spool holds for central now."""
        return self.spool.depth()

    def stop(self, drain_seconds: float = 5.0) -> Depth:
        """NOT_SERVING, then finish local calls, then forward for up to `drain_seconds`
        while central answers; returns what is left in the spool for the next start."""
        if self._stopped.is_set():
            return Depth(0, 0)
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(LOCAL_GRACE_SECONDS).wait()
        left = self.forwarder.stop(drain_seconds)
        self.channel.close()
        self.spool.close()
        return left


def create_relay(config: ServerConfig) -> RunningRelay:
    target = parse_forward_to(config.forward_to, config.host, config.grpc_port)
    if config.workers != 1:
        raise ValueError("--forward-to runs one relay process per spool; drop --workers")
    names = service_names()
    spool = Spool.open(Path(config.spool_dir))
    channel = open_channel(target)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="trackway-relay"),
        options=_options(config),
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable(server, [*names, health.SERVICE_NAME])
    server.add_generic_rpc_handlers((LocalWrites(spool), Proxy(channel, target.uri)))
    address = _address(config.host, config.grpc_port)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        channel.close()
        spool.close()
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    forwarder = Forwarder(spool, channel, target.uri)
    forwarder.start()
    server.start()
    # SERVING means "takes writes": it does not depend on central, which may be away.
    for name in ("", *names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningRelay(server, port, target, spool, forwarder, channel, health_servicer)


def serve(config: ServerConfig) -> int:
    """Runs until SIGTERM or SIGINT, then drains the spool for up to --grace-seconds."""
    running = create_relay(config)
    log.info(
        "relay serving gRPC on %s, forwarding to %s; spool %s holds %s (no HTTP API in relay mode)",
        _address(config.host, running.port),
        running.target.uri,
        running.spool.path,
        running.depth(),
    )
    shutdown.wait_for_stop(log, "forwarding what is spooled", config.grace_seconds)
    left = running.stop(config.grace_seconds)
    if left.writes:
        log.warning(
            "%s stay in the spool %s; a relay started on it again forwards them",
            left,
            running.spool.path,
        )
    log.info("stopped")
    return 0
