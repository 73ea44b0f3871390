"""Database pool gauges, read from SQLAlchemy's pool when /metrics is scraped.

Reading at scrape time costs nothing on the request path. The engine's pool is looked
up on every scrape because `Engine.dispose()` replaces it. With `--workers`, each
process has its own pool, and a scrape reports the pool of the worker that answered it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

# (metric, help, the QueuePool method that reads it)
_READINGS = (
    ("trackway_db_pool_size", "Connections the pool keeps open.", "size"),
    ("trackway_db_pool_checked_out", "Pool connections in use now.", "checkedout"),
    ("trackway_db_pool_checked_in", "Idle connections in the pool.", "checkedin"),
    (
        "trackway_db_pool_overflow",
        "Connections opened beyond the pool size (negative: slots still free below it).",
        "overflow",
    ),
)


class PoolCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        pool = self._engine.pool
        for name, text, method in _READINGS:
            read = getattr(pool, method, None)
            if callable(read):  # pools without a bound (NullPool, StaticPool) have none
                yield GaugeMetricFamily(name, text, value=float(read()))
