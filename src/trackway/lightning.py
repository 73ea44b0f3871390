"""PyTorch Lightning: a training run logged into Trackway without slowing training.

    import lightning.pytorch as pl
    from trackway.lightning import TrackwayCallback

    trainer = pl.Trainer(max_epochs=5, callbacks=[TrackwayCallback(log_model=True)])
    trainer.fit(module, datamodule)

`TrackwayCallback` does everything for a fit:

- it starts a run when the trainer sets up (in `experiment_name` if given, else the
  active experiment), or uses the run active in this thread (`with
  trackway.start_run():` around `fit`), which it then leaves to its owner to end;
- it adds a `TrackwayLogger` to the trainer's loggers (unless one is there), so every
  value the module logs with `self.log(...)` reaches the run exactly as Lightning hands
  it to loggers: step values every `log_every_n_steps` at the trainer's global step,
  epoch aggregates once per epoch, with Lightning's `epoch` metric;
- params: the module's and datamodule's `save_hyperparameters()` values (nested ones
  as `a/b`), and the trainer's and optimizers' settings (`max_epochs`,
  `optimizer_name`, `optimizer/lr`, ...);
- with `log_model=True`, the trained module through `trackway.models.pytorch.log_model`
  at the end of fit (a failure there is a warning: training has already succeeded);
- it ends the run it started: FINISHED after fit, FAILED when training raises, KILLED
  on Ctrl-C.

`TrackwayLogger` is the metrics and params part alone, in Lightning's Logger interface
(`Trainer(logger=TrackwayLogger())`): it starts or uses a run the same way and ends the
run it started when Lightning finalizes it (FINISHED, or FAILED, Ctrl-C included).

Why a logger behind the callback rather than reading `trainer.callback_metrics`: that
dict mixes this step's values with the last epoch's aggregates and validation results,
so logging it at each step repeats stale values. Lightning's call to its loggers is the
one place that says which values are new, and at which step.

Everything goes through the SDK's background logger: a logging call costs microseconds
and never waits for the server; values the server refused are raised when the run ends
(after training). A metric or param that cannot be logged (a bad name, a param changing
its value) is a warning, never a broken training step. Only rank 0 logs.

Importing this module imports Lightning (`import lightning`, 2.x); `import trackway`
never does.
"""

from __future__ import annotations

import re
import sys
import time
import warnings
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from trackway.errors import TrackwayError
from trackway.fluent import runs, state
from trackway.tracking.limits import MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH

__all__ = ["TrackwayCallback", "TrackwayLogger"]

_NOT_KEY_CHARS = re.compile(r"[^\w\-. /]")  # the server's metric and param key alphabet


class TrackwayLogger(Logger):
    """Lightning's Logger interface over a Trackway run (see the module docstring).

    - `experiment_name`: where a new run goes (created if missing); default: the active
      experiment (`trackway.set_experiment`, TRACKWAY_EXPERIMENT_NAME, "Default").
    - `run_id`: log into that run (resumed, and ended at finalize) instead.
    - `run_name`, `tags`: of a new run. `prefix`: put before every metric and param key.

    The run starts on first use; `run_id` and `experiment` (the TrackwayClient) give
    access to it. A later `trainer.test()` with the same logger resumes the run.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        *,
        run_id: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, object] | None = None,
        prefix: str = "",
    ) -> None:
        super().__init__()
        self._experiment_name = experiment_name
        self._run_id = run_id
        self._run_name = run_name
        self._tags = dict(tags or {})
        self._prefix = prefix
        self._experiment_id: str | None = None
        self._active: runs.ActiveRun | None = None
        self._owned = False
        self._params: dict[str, str] = {}
        self._warned: set[str] = set()

    # The run

    def run(self) -> runs.ActiveRun:
        """The run this logger logs into, started (or resumed) on first use."""
        if self._active is not None:
            return self._active
        current = runs.active_run()
        if current is not None and self._run_id in (None, current.run_id):
            self._active, self._owned = current, False
        else:
            experiment_id = None
            if self._experiment_name and not self._run_id:
                found = runs._get_or_create(state.client(), self._experiment_name)
                experiment_id = found.experiment_id
            self._active = runs.start_run(
                run_id=self._run_id,
                experiment_id=experiment_id,
                run_name=self._run_name,
                tags=self._tags,
                nested=current is not None,
            )
            self._owned = True
        self._run_id = self._active.run_id
        self._experiment_id = self._active.info.experiment_id
        return self._active

    @property
    def run_id(self) -> str | None:
        """The run's id (None on ranks other than 0, which log nothing)."""
        if _rank() > 0:
            return None
        return self._run_id or self.run().run_id  # reading it never resumes an ended run

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The TrackwayClient, for what Lightning does not log (artifacts, figures)."""
        return self.run().client

    @property
    def name(self) -> str | None:
        """The run's experiment id (Lightning puts checkpoints under name/version)."""
        if _rank() > 0:
            return None
        return self._experiment_id or self.run().info.experiment_id

    @property
    def version(self) -> str | None:
        return self.run_id

    def end(self, status: str) -> None:
        """Ends the run if this logger started it (FINISHED, FAILED or KILLED), after
        flushing what was logged. Ending it as a failure never raises: the training
        error matters more, and what went wrong here is printed."""
        active = self._active
        if active is None or not self._owned:
            return
        self._active = None
        if status == "FINISHED":
            runs.end_run(status, _run=active)
            return
        try:
            runs.end_run(status, _run=active)
        except Exception as exc:
            print(f"trackway: error: while ending run {active.run_id}: {exc}", file=sys.stderr)

    # Lightning's Logger interface

    @rank_zero_only
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        found = vars(params) if isinstance(params, Namespace) else dict(params or {})
        self.log_params(_flatten(found))

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        run = self.run()
        stamp = time.time_ns() // 1_000_000
        for key, value in metrics.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                self._warn(f"metric {key!r}", f"{type(value).__name__} is not a number")
                continue
            try:
                run.logger.log_metric(run.run_id, self._key(key), number, step or 0, stamp)
            except TrackwayError as exc:
                self._warn(f"metric {key!r}", str(exc))

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.end("FINISHED" if status == "success" else "FAILED")

    # Params, for the callback and for users

    @rank_zero_only
    def log_params(self, params: Mapping[str, object]) -> None:
        """Logs params into the run; one it already has with the same value is skipped,
        one with another value is a warning (params are write-once)."""
        run = self.run()
        for key, value in params.items():
            name, text = self._key(key), _cut(str(value))
            logged = self._params.get(name)
            if logged == text:
                continue
            if logged is not None:
                self._warn(f"param {name!r}", f"already logged as {logged!r}, not {text!r}")
                continue
            try:
                run.logger.log_param(run.run_id, name, text)
            except TrackwayError as exc:
                self._warn(f"param {name!r}", str(exc))
                continue
            self._params[name] = text

    def _key(self, key: str) -> str:
        return _NOT_KEY_CHARS.sub("_", f"{self._prefix}{key}")[:MAX_KEY_LENGTH]

    def _warn(self, what: str, why: str) -> None:
        if what not in self._warned:  # once per key: a training loop repeats itself
            self._warned.add(what)
            warnings.warn(f"trackway: {what} was not logged: {why}", stacklevel=3)


class TrackwayCallback(Callback):
    """Logs a Lightning fit into a Trackway run (see the module docstring).

    - `experiment_name`, `run_name`, `tags`: of the run it starts.
    - `log_model`: log the trained module at the end of fit into the run's folder
      `artifact_path`, with `input_example` (an array or tensor; it gives the signature)
      and, with `registered_model_name`, as a new version of that registered model.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        *,
        run_name: str | None = None,
        tags: Mapping[str, object] | None = None,
        log_model: bool = False,
        artifact_path: str = "model",
        input_example: Any = None,
        registered_model_name: str | None = None,
    ) -> None:
        self._experiment_name = experiment_name
        self._run_name = run_name
        self._tags = dict(tags or {})
        self._log_model = log_model
        self._artifact_path = artifact_path
        self._input_example = input_example
        self._registered_model_name = registered_model_name
        self.logger: TrackwayLogger | None = None

    @rank_zero_only
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        found = next((lg for lg in trainer.loggers if isinstance(lg, TrackwayLogger)), None)
        if found is None:
            found = TrackwayLogger(self._experiment_name, run_name=self._run_name, tags=self._tags)
            trainer.loggers = [*trainer.loggers, found]
        self.logger = found
        found.run()  # started now: the module's own trackway.log_* calls land in it too

    @rank_zero_only
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.logger is not None:
            self.logger.log_params(training_params(trainer))

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._log_model or self.logger is None:
            return
        from trackway.models import pytorch

        self.logger.run()  # log_model writes into this thread's active run: ours
        try:
            pytorch.log_model(
                pl_module,
                self._artifact_path,
                input_example=self._input_example,
                registered_model_name=self._registered_model_name,
            )
        except Exception as exc:
            warnings.warn(
                f"trackway: the model was not logged: {type(exc).__name__}: {exc}", stacklevel=2
            )

    @rank_zero_only
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # Before Lightning's own finalize("failed"), which cannot tell Ctrl-C apart.
        if self.logger is not None:
            self.logger.end(runs.status_for(type(exception), exception))


def training_params(trainer: pl.Trainer) -> dict[str, object]:
    """The trainer's loop limits and each optimizer's class and default settings."""
    found: dict[str, object] = {
        "max_epochs": trainer.max_epochs,
        "max_steps": trainer.max_steps,
        "accumulate_grad_batches": trainer.accumulate_grad_batches,
        "precision": trainer.precision,
    }
    optimizers = list(trainer.optimizers)
    for n, optimizer in enumerate(optimizers):
        name = "optimizer" if len(optimizers) == 1 else f"optimizer_{n}"
        found[f"{name}_name"] = type(optimizer).__name__
        for key, value in optimizer.defaults.items():
            if isinstance(value, (bool, int, float, str, tuple)):
                found[f"{name}/{key}"] = value
    return {k: v for k, v in found.items() if v is not None}


def _rank() -> int:
    """This process's global rank, as Lightning's rank_zero_only knows it."""
    return int(getattr(rank_zero_only, "rank", 0))


def _flatten(params: Mapping[str, Any], parent: str = "") -> dict[str, object]:
    """Nested mappings (and Namespaces) as `outer/inner` keys."""
    found: dict[str, object] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, Mapping) and value:
            found.update(_flatten(value, name))
        else:
            found[name] = value
    return found


def _cut(text: str) -> str:
    limit = MAX_PARAM_VALUE_LENGTH
    return text if len(text) <= limit else text[: limit - 3] + "..."
