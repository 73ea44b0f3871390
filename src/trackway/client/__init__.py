"""The Python client: TrackwayClient (one method per RPC) and the background logger."""

from trackway.client.client import TrackwayClient
from trackway.client.config import LoggerConfig
from trackway.client.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    Metric,
    Page,
    Run,
    RunData,
    RunInfo,
)
from trackway.client.logger import BackgroundLogger

__all__ = [
    "BackgroundLogger",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "LoggerConfig",
    "Metric",
    "Page",
    "Run",
    "RunData",
    "RunInfo",
    "TrackwayClient",
]
