"""Custom models written against MLflow's own PythonModel, for the interop tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd


class Greeter(mlflow.pyfunc.PythonModel):
    """MLflow's classic form: load_context(context), predict(context, model_input)."""

    def load_context(self, context: Any) -> None:
        self.greeting = Path(context.artifacts["greeting"]).read_text(encoding="utf-8").strip()

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> list[str]:
        return [f"{self.greeting}, {name}" for name in model_input["name"]]


class Doubler(mlflow.pyfunc.PythonModel):
    """MLflow's newer form: predict(model_input, params=None), without a context."""

    def predict(self, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        return model_input * 2
