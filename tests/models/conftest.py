"""Fixtures of the model tests: the fluent API on a live server (SQLite and PostgreSQL),
and small training sets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from tests.client.conftest import clean_env  # noqa: F401 (a fixture)
from trackway.client import TrackwayClient
from trackway.fluent import state
from trackway.server.app import RunningServer


@pytest.fixture
def tracked(server: RunningServer, clean_env: None) -> Iterator[TrackwayClient]:  # noqa: F811
    """The fluent API pointed at the per-test server (each backend), with an experiment
    of its own; yields a separate client to check what reached the server."""
    import trackway

    state.reset()
    trackway.set_tracking_uri(f"grpc://127.0.0.1:{server.port}")
    trackway.set_experiment(f"models-{uuid.uuid4().hex[:8]}")
    with TrackwayClient(f"grpc://127.0.0.1:{server.port}", retry_seconds=5) as checker:
        yield checker
    while trackway.active_run() is not None:
        trackway.end_run()
    state.reset()


@pytest.fixture
def table() -> tuple[pd.DataFrame, np.ndarray]:
    """A small two-class table: a float column and an int column."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {"size": rng.normal(size=60), "rooms": rng.integers(1, 6, size=60).astype(np.int64)}
    )
    labels = (frame["size"] + 0.3 * frame["rooms"] > 1.0).astype(np.int64).to_numpy()
    return frame, labels


@pytest.fixture
def matrix() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 3))
    return X, X @ np.array([1.5, -2.0, 0.5]) + 0.1
