"""Custom python models that the tests save and load (importable, so that pickles made
in one test load in another process or library)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from trackway.models import PythonModel, PythonModelContext


class AddN(PythonModel):
    """predict(context, model_input): adds `n` to every value."""

    def __init__(self, n: float) -> None:
        self.n = n

    def predict(self, context: PythonModelContext, model_input: Any) -> Any:
        return model_input + self.n


class Scale:
    """No base class, predict(model_input) only: the duck-typed form."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, model_input: Any) -> Any:
        return model_input * self.factor


class Vocabulary(PythonModel):
    """Reads an artifact in load_context; predicts whether each word is known."""

    def load_context(self, context: PythonModelContext) -> None:
        text = Path(context.artifacts["vocab"]).read_text(encoding="utf-8")
        self.words = set(text.split())
        self.suffix = context.model_config.get("suffix", "")

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {"known": [w in self.words for w in model_input["word"]]},
            index=model_input.index,
        )


class WithParams(PythonModel):
    """predict(model_input, params=None): MLflow's newer form, with inference params."""

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input * (params or {}).get("times", 1)


class Tripwire:
    """Unpickling this runs `Path(marker).touch()`: the shape of a malicious model."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.marker),))
