"""The fluent API: `import trackway; with trackway.start_run(): trackway.log_metric(...)`."""

from trackway.fluent.artifacts import (
    download_artifacts,
    get_artifact_uri,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_text,
)
from trackway.fluent.datasets import dataset_from_pandas
from trackway.fluent.log import (
    delete_tag,
    flush,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
)
from trackway.fluent.registry import register_model
from trackway.fluent.runs import (
    ActiveRun,
    active_run,
    end_run,
    get_run,
    last_active_run,
    set_experiment,
    start_run,
)
from trackway.fluent.search import get_metric_history, search_runs
from trackway.fluent.state import set_tracking_uri
from trackway.fluent.state import tracking_uri as get_tracking_uri

__all__ = [
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
]
