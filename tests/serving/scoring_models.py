"""A custom model for the scoring-server tests (importable, so that the server process
can unpickle it): it fails or stalls on request, to test 500s and timeouts."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trackway.models import PythonModel, PythonModelContext


class Moody(PythonModel):
    """Doubles its input; a negative value makes it raise, 999 makes it sleep 30 s."""

    def predict(self, context: PythonModelContext, model_input: Any) -> Any:
        values = np.asarray(model_input, dtype=float)
        if (values < 0).any():
            raise ValueError("negative values are not allowed")
        if (values == 999).any():
            time.sleep(30)
        return values * 2
