"""The server's Prometheus metrics, and their exposition in the text format.

gRPC metrics keep the names and labels of go-grpc-prometheus (grpc-ecosystem), so the
dashboards and alerts written for it work unchanged. Everything Trackway-specific is
prefixed `trackway_`.

Each server owns its registry: tests run several servers in one process, and each
server's /metrics must count its own traffic. With `--workers` the values live in
prometheus_client's multiprocess files instead (see multiprocess.py), and a scrape
sums every worker's.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from trackway.observability import multiprocess

# `_created` series would double the series count, and the Go exporters whose names we
# share have none. The switch is process-wide, which suits a server process.
prometheus_client.disable_created_metrics()

# The classic text format, which every Prometheus reads (generate_latest writes it).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# Seconds: unary calls take a millisecond or two; LogStream and uploads last minutes.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
POINT_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)


class Metrics:
    """Every metric of one server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._collectors: list[Collector] = []
        r = self.registry
        self.grpc_started = Counter(
            "grpc_server_started_total", "RPCs started on the server.", GRPC_LABELS, registry=r
        )
        self.grpc_handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status code.",
            (*GRPC_LABELS, "grpc_code"),
            registry=r,
        )
        self.grpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC until the server finished it.",
            GRPC_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.grpc_received = Counter(
            "grpc_server_msg_received_total",
            "Request messages received by the server.",
            GRPC_LABELS,
            registry=r,
        )
        self.grpc_sent = Counter(
            "grpc_server_msg_sent_total",
            "Response messages sent by the server.",
            GRPC_LABELS,
            registry=r,
        )
        self.grpc_in_flight = Gauge(
            "trackway_grpc_server_in_flight",
            "RPCs being handled now.",
            ("grpc_service", "grpc_method"),
            multiprocess_mode="livesum",
            registry=r,
        )
        self.http_requests = Counter(
            "http_server_requests_total",
            "HTTP requests answered, by route template and status.",
            ("method", "route", "status"),
            registry=r,
        )
        self.http_seconds = Histogram(
            "http_server_request_duration_seconds",
            "Time from the start of an HTTP request until its response was sent.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge(
            "trackway_http_server_in_flight",
            "HTTP requests being handled now.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.points = Counter(
            "trackway_points_ingested_total",
            "Metric points committed by write requests and LogStream batches.",
            registry=r,
        )
        self.batch_points = Histogram(
            "trackway_ingest_batch_points",
            "Metric points per committed write request or LogStream batch.",
            buckets=POINT_BUCKETS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "trackway_writer_commit_seconds",
            "Duration of the group-commit writer's transactions, commit included.",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.group_size = Histogram(
            "trackway_writer_group_size",
            "Write requests committed together in one transaction of the group-commit writer.",
            buckets=GROUP_BUCKETS,
            registry=r,
        )
        artifact_bytes = Counter(
            "trackway_artifact_bytes_total",
            "Artifact bytes received from clients (upload) and sent to them (download).",
            ("direction",),
            registry=r,
        )
        self.uploaded_bytes = artifact_bytes.labels("upload")
        self.downloaded_bytes = artifact_bytes.labels("download")

    def add_collector(self, collector: Collector) -> None:
        """A collector whose values are read at scrape time, in this process."""
        self._collectors.append(collector)
        self.registry.register(collector)

    def ingested(self, points: int) -> None:
        """One committed write of `points` metric points."""
        self.points.inc(points)
        self.batch_points.observe(points)

    def committed(self, group_size: int, seconds: float) -> None:
        """One commit of the group-commit writer."""
        self.commit_seconds.observe(seconds)
        self.group_size.observe(group_size)

    def render(self) -> bytes:
        """The text exposition of every metric, summed over the workers' files when the
        server runs several processes."""
        if not multiprocess.active():
            return generate_latest(self.registry)
        shared = CollectorRegistry()
        MultiProcessCollector(shared)
        for collector in self._collectors:
            shared.register(collector)
        return generate_latest(shared)
