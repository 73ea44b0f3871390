"""What a flavor module gives `save_model`: its MLmodel settings and requirements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trackway.models import environment
from trackway.models.mlmodel import PYFUNC_FLAVOR


@dataclass
class Written:
    """A flavor's files are in the model folder; this is what the MLmodel says of them.

    `predict` runs the in-memory model on the input example, to infer the signature's
    outputs (None: the outputs stay unknown)."""

    flavors: dict[str, dict[str, Any]]
    requirements: list[str]
    predict: Callable[[Any], Any] | None = None


def pyfunc_settings(loader_module: str, **settings: Any) -> dict[str, dict[str, Any]]:
    """The `python_function` flavor entry every model carries."""
    return {
        PYFUNC_FLAVOR: {
            "loader_module": loader_module,
            **settings,
            "env": dict(environment.ENV_SETTING),
            "python_version": environment.python_version(),
        }
    }
