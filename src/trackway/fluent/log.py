"""Logging calls of the fluent API: metrics, params, tags, dataset inputs.

By default they return at once: the background logger sends them in batches on one
LogStream (see trackway.client.logger), and flush() or end_run() waits for the server
and raises what it refused. `synchronous=True` sends now, in one RPC, and raises on
error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from trackway.client import Dataset, DatasetInput, Metric
from trackway.fluent import state
from trackway.fluent.runs import ActiveRun, start_run

CONTEXT_TAG = "mlflow.data.context"


def current_run() -> ActiveRun:
    """This thread's active run; starts one (or attaches to TRACKWAY_RUN_ID) if none."""
    runs = state.stack()
    return runs[-1] if runs else start_run()


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool = False,
    run_id: str | None = None,
) -> None:
    """Logs one point of a metric (step defaults to 0; timestamp, in epoch ms, to now).

    Returns in about a microsecond: the point goes to the background logger's buffer.
    When the buffer is full the call blocks until there is room (nothing is dropped)."""
    if synchronous:
        _log_metrics_now({key: value}, step, timestamp, run_id)
        return
    if run_id is None:
        try:
            run = state._proc.local.stack[-1]
        except (AttributeError, IndexError):
            run = current_run()
        run.logger.log_metric(run.run_id, key, value, step, timestamp)
    else:
        state.client().logger.log_metric(run_id, key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool = False,
    run_id: str | None = None,
) -> None:
    """Logs several metrics at one step and one timestamp."""
    if synchronous:
        _log_metrics_now(metrics, step, timestamp, run_id)
        return
    stamp = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    if run_id is None:
        run = current_run()
        run.logger.log_metrics(run.run_id, metrics, step, stamp)
    else:
        state.client().logger.log_metrics(run_id, metrics, step, stamp)


def _log_metrics_now(
    metrics: Mapping[str, float], step: int | None, timestamp: int | None, run_id: str | None
) -> None:
    stamp = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    points = [Metric(k, float(v), int(step or 0), stamp) for k, v in metrics.items()]
    client = state.client()
    target = run_id or current_run().run_id
    for start in range(0, len(points), 1000):
        client.log_batch(target, points[start : start + 1000])


def log_param(key: str, value: object, synchronous: bool = False) -> object:
    """Logs a param (write-once: logging a different value for a key raises). Returns
    the value, as MLflow does."""
    run = current_run()
    if synchronous:
        run.client.log_param(run.run_id, key, value)
    else:
        run.logger.log_param(run.run_id, key, value)
    return value


def log_params(params: Mapping[str, object], synchronous: bool = False) -> None:
    run = current_run()
    if synchronous:
        items = list(params.items())
        for start in range(0, len(items), 100):
            run.client.log_batch(run.run_id, params=items[start : start + 100])
        return
    for key, value in params.items():
        run.logger.log_param(run.run_id, key, value)


def set_tag(key: str, value: object, synchronous: bool = False) -> None:
    """Sets a tag on the active run; the last value wins."""
    run = current_run()
    if synchronous:
        run.client.set_tag(run.run_id, key, value)
    else:
        run.logger.set_tag(run.run_id, key, value)


def set_tags(tags: Mapping[str, object], synchronous: bool = False) -> None:
    run = current_run()
    if synchronous:
        items = list(tags.items())
        for start in range(0, len(items), 100):
            run.client.log_batch(run.run_id, tags=items[start : start + 100])
        return
    for key, value in tags.items():
        run.logger.set_tag(run.run_id, key, value)


def delete_tag(key: str) -> None:
    """Removes a tag of the active run, after the tags logged before it are sent."""
    run = current_run()
    run.logger.flush()
    run.client.delete_tag(run.run_id, key)


def log_input(
    dataset: Dataset | object,
    context: str | None = None,
    tags: Mapping[str, object] | None = None,
) -> None:
    """Records a dataset that the active run consumed: a Dataset, or a pandas DataFrame
    (described by `trackway.dataset_from_pandas`). Sent at once."""
    from trackway.fluent.datasets import as_dataset

    all_tags = {k: str(v) for k, v in (tags or {}).items()}
    if context:
        all_tags[CONTEXT_TAG] = context
    run = current_run()
    run.client.log_inputs(run.run_id, [DatasetInput(as_dataset(dataset), all_tags)])


def flush(timeout: float | None = None) -> None:
    """Waits until everything logged in this process has reached the server; raises
    the errors of data it refused, and Unavailable if `timeout` seconds pass first."""
    clients = {id(r.client): r.client for r in state.process().runs}
    found = state.process().client
    if found is not None:
        clients[id(found)] = found
    for client in clients.values():
        client.flush(timeout)
