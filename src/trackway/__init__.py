"""Trackway: a gRPC-first platform for the machine-learning lifecycle.

The client API is exported lazily: `import trackway` stays cheap (the server never
loads the client), and the first use of `trackway.log_metric` or
`trackway.TrackwayClient` imports what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_FLUENT = (
    "ActiveRun",
    "active_run",
    "dataset_from_pandas",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
)
_CLIENT = (
    "BackgroundLogger",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "LoggerConfig",
    "Metric",
    "Run",
    "RunData",
    "RunInfo",
    "TrackwayClient",
)
_HOMES = {
    **{name: "trackway.fluent" for name in _FLUENT},
    **{name: "trackway.client" for name in _CLIENT},
}

__all__ = ["__version__", *_FLUENT, *_CLIENT]

if TYPE_CHECKING:  # the names that __getattr__ serves, for type checkers
    from trackway.client import (
        BackgroundLogger as BackgroundLogger,
    )
    from trackway.client import (
        Dataset as Dataset,
    )
    from trackway.client import (
        DatasetInput as DatasetInput,
    )
    from trackway.client import (
        Experiment as Experiment,
    )
    from trackway.client import (
        LoggerConfig as LoggerConfig,
    )
    from trackway.client import (
        Metric as Metric,
    )
    from trackway.client import (
        Run as Run,
    )
    from trackway.client import (
        RunData as RunData,
    )
    from trackway.client import (
        RunInfo as RunInfo,
    )
    from trackway.client import (
        TrackwayClient as TrackwayClient,
    )
    from trackway.fluent import (
        ActiveRun as ActiveRun,
    )
    from trackway.fluent import (
        active_run as active_run,
    )
    from trackway.fluent import (
        dataset_from_pandas as dataset_from_pandas,
    )
    from trackway.fluent import (
        delete_tag as delete_tag,
    )
    from trackway.fluent import (
        download_artifacts as download_artifacts,
    )
    from trackway.fluent import (
        end_run as end_run,
    )
    from trackway.fluent import (
        flush as flush,
    )
    from trackway.fluent import (
        get_artifact_uri as get_artifact_uri,
    )
    from trackway.fluent import (
        get_metric_history as get_metric_history,
    )
    from trackway.fluent import (
        get_run as get_run,
    )
    from trackway.fluent import (
        get_tracking_uri as get_tracking_uri,
    )
    from trackway.fluent import (
        last_active_run as last_active_run,
    )
    from trackway.fluent import (
        list_artifacts as list_artifacts,
    )
    from trackway.fluent import (
        log_artifact as log_artifact,
    )
    from trackway.fluent import (
        log_artifacts as log_artifacts,
    )
    from trackway.fluent import (
        log_dict as log_dict,
    )
    from trackway.fluent import (
        log_figure as log_figure,
    )
    from trackway.fluent import (
        log_image as log_image,
    )
    from trackway.fluent import (
        log_input as log_input,
    )
    from trackway.fluent import (
        log_metric as log_metric,
    )
    from trackway.fluent import (
        log_metrics as log_metrics,
    )
    from trackway.fluent import (
        log_param as log_param,
    )
    from trackway.fluent import (
        log_params as log_params,
    )
    from trackway.fluent import (
        log_text as log_text,
    )
    from trackway.fluent import (
        register_model as register_model,
    )
    from trackway.fluent import (
        search_runs as search_runs,
    )
    from trackway.fluent import (
        set_experiment as set_experiment,
    )
    from trackway.fluent import (
        set_tag as set_tag,
    )
    from trackway.fluent import (
        set_tags as set_tags,
    )
    from trackway.fluent import (
        set_tracking_uri as set_tracking_uri,
    )
    from trackway.fluent import (
        start_run as start_run,
    )


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'trackway' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
