"""Reads of the fluent API: search_runs (a DataFrame when pandas is installed) and
get_metric_history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackway.client import Metric, Run
from trackway.fluent import state


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: str = "active",
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching a filter (the server's search language: AND, OR, NOT, IN, ...).

    Searches `experiment_ids`, or the experiments named, or every experiment with
    `search_all_experiments`, else the active experiment. Returns a pandas DataFrame
    (run_id, experiment_id, status, artifact_uri, start_time, end_time, metrics.*,
    params.*, tags.*) when pandas is installed and `output_format` is "pandas", else a
    list of Run."""
    client = state.client()
    ids = list(experiment_ids or [])
    for name in experiment_names or []:
        ids.append(client.get_experiment_by_name(name).experiment_id)
    if not ids and not search_all_experiments:
        from trackway.fluent.runs import _active_experiment_id

        ids = [_active_experiment_id(client)]
    runs: list[Run] = []
    token = ""
    while len(runs) < max_results:
        page = client.search_runs(
            ids,
            filter_string,
            run_view_type,
            min(max_results - len(runs), 50_000),
            order_by,
            token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise ValueError(f"output_format {output_format!r}: use 'pandas' or 'list'")
    try:
        import pandas  # noqa: F401
    except ImportError:
        return runs
    return runs_to_frame(runs)


def runs_to_frame(runs: Sequence[Run]) -> Any:
    import pandas as pd

    rows = []
    for run in runs:
        info = run.info
        row: dict[str, Any] = {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "status": info.status,
            "artifact_uri": info.artifact_uri,
            "start_time": pd.to_datetime(info.start_time, unit="ms", utc=True),
            "end_time": pd.to_datetime(info.end_time, unit="ms", utc=True)
            if info.end_time
            else pd.NaT,
        }
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        rows.append(row)
    base = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    extra = sorted(c for c in frame.columns if c not in base)
    return frame[base + extra]


def get_metric_history(run_id: str, key: str, max_points: int = 0) -> list[Metric]:
    """A metric's points in step order (every page), or a shape-keeping downsample of at
    most `max_points` points."""
    return state.client().get_metric_history(run_id, key, max_points=max_points)
