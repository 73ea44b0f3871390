"""register_model: a model version from a run's artifacts, creating the model if new."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from trackway.client.registry import ModelVersion
from trackway.errors import AlreadyExists
from trackway.fluent import state


def register_model(
    model_uri: str, name: str, tags: Mapping[str, object] | None = None
) -> ModelVersion:
    """Registers `model_uri` (`runs:/<run_id>/<path>`, `models:/...`, or an artifact URI
    below the server's root) as a new version of the registered model `name`."""
    client = state.client()
    with contextlib.suppress(AlreadyExists):
        client.create_registered_model(name)
    return client.create_model_version(name, model_uri, tags=tags)
