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
# Autologging (scikit-learn now): `trackway.autolog()`.
_AUTOLOG = ("autolog",)
# Subpackages reachable as attributes after a bare `import trackway` (`lightning`
# imports Lightning, so only on use).
_SUBMODULES = ("lightning", "models", "projects", "sklearn")
_HOMES = {
    **{name: "trackway.fluent" for name in _FLUENT},
    **{name: "trackway.client" for name in _CLIENT},
    **{name: "trackway.sklearn" for name in _AUTOLOG},
}

# Not the subpackages: `from trackway import *` must not need their optional extras.
__all__ = ["__version__", *_FLUENT, *_CLIENT, *_AUTOLOG]

if TYPE_CHECKING:  # the names that __getattr__ serves, for type checkers
    from trackway import lightning as lightning
    from trackway import models as models
    from trackway import projects as projects
    from trackway import sklearn as sklearn
    from trackway.client import *  # noqa: F403
    from trackway.fluent import *  # noqa: F403
    from trackway.sklearn import autolog as autolog


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"trackway.{name}")  # the import binds it here
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'trackway' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])
