"""A model for the scoring server's auth test, importable by the server process."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackway.models import PythonModel, PythonModelContext


class Doubler(PythonModel):
    def predict(self, context: PythonModelContext, model_input: Any) -> Any:
        return np.asarray(model_input, dtype=float) * 2
