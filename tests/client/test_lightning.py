"""The PyTorch Lightning callback and logger against a live server: a tiny module trained
for a few steps on the CPU logs its params, every step's metrics exactly once, its model
and its status; an error in training ends the run FAILED, Ctrl-C KILLED."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning import pytorch as pl
from torch.utils.data import DataLoader, TensorDataset

import trackway
from trackway import models
from trackway.client import Run, TrackwayClient
from trackway.fluent import state
from trackway.lightning import TrackwayCallback, TrackwayLogger

ROWS, BATCH, EPOCHS = 24, 8, 2
STEPS = EPOCHS * ROWS // BATCH  # optimizer steps in one fit


class TinyRegressor(pl.LightningModule):
    """y = x·w, learned with SGD; `fail_at` raises in that training step."""

    def __init__(self, lr: float = 0.05, hidden: int = 4, fail_at: int = -1, **nested: object):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.global_step == self.hparams.fail_at:
            raise self.failure()
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)  # a step metric
        return loss

    def failure(self) -> BaseException:
        return RuntimeError("the loss exploded")

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))  # an epoch metric

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class Interrupted(TinyRegressor):
    def failure(self) -> BaseException:
        return KeyboardInterrupt()


@pytest.fixture(scope="module")
def loaders() -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(ROWS, 3, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    data = TensorDataset(x, y)
    return DataLoader(data, batch_size=BATCH), DataLoader(data, batch_size=BATCH)


def _trainer(tmp_path: Path, **options: Any) -> pl.Trainer:
    """A quiet CPU trainer that logs every step (Lightning's default is every 50th)."""
    settings: dict[str, Any] = {
        "max_epochs": EPOCHS,
        "log_every_n_steps": 1,
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "default_root_dir": str(tmp_path),
    }
    return pl.Trainer(**{**settings, **options})


def _only_run(client: TrackwayClient) -> Run:
    """The one run of the fluent fixture's experiment."""
    found = list(client.search_runs([state.process().experiment_id]))
    assert len(found) == 1, found
    return found[0]


def _steps(client: TrackwayClient, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_a_fit_logs_params_every_step_the_model_and_its_end(
    fluent: TrackwayClient, loaders, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    module = TinyRegressor(lr=0.05, optim={"betas": [0.9, 0.99], "kind": "sgd"})
    example = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    callback = TrackwayCallback(
        run_name="tiny", tags={"team": "vision"}, log_model=True, input_example=example
    )
    _trainer(tmp_path, callbacks=[callback]).fit(module, *loaders)

    run = _only_run(fluent)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    assert run.data.tags["team"] == "vision"
    params = run.data.params
    assert params["lr"] == "0.05" and params["hidden"] == "4"
    assert params["optim/kind"] == "sgd" and params["optim/betas"] == "[0.9, 0.99]"
    assert params["optimizer_name"] == "SGD" and params["optimizer/lr"] == "0.05"
    assert params["max_epochs"] == str(EPOCHS)
    # Every training step once, at its global step; epoch values once per epoch.
    assert _steps(fluent, run.info.run_id, "train_loss") == list(range(STEPS))
    assert len(_steps(fluent, run.info.run_id, "val_loss")) == EPOCHS
    assert {m.value for m in fluent.get_metric_history(run.info.run_id, "epoch")} == {0, 1}
    # The points went through the background logger's stream, not one RPC per call.
    assert state.client().logger.stats.points_sent >= STEPS + EPOCHS

    loaded = models.load_model(f"runs:/{run.info.run_id}/model")
    module.eval()
    with torch.no_grad():
        expected = module(torch.from_numpy(example)).numpy()
    np.testing.assert_allclose(loaded.predict(example), expected, rtol=1e-6)
    assert loaded.metadata.signature.inputs[0].shape == (-1, 3)
    # A LightningModule unpickles only where Lightning is installed.
    assert "lightning==" in (loaded.model_dir / "requirements.txt").read_text()


def test_an_error_in_training_ends_the_run_failed(
    fluent: TrackwayClient, loaders, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="the loss exploded"):
        _trainer(tmp_path, callbacks=[TrackwayCallback()]).fit(TinyRegressor(fail_at=4), *loaders)
    run = _only_run(fluent)
    assert run.info.status == "FAILED"
    assert _steps(fluent, run.info.run_id, "train_loss") == [0, 1, 2, 3]
    assert trackway.active_run() is None


def test_ctrl_c_ends_the_run_killed(fluent: TrackwayClient, loaders, tmp_path: Path) -> None:
    handler = signal.getsignal(signal.SIGINT)
    try:
        # Lightning shuts down gracefully, then exits with status 1.
        with pytest.raises(SystemExit):
            _trainer(tmp_path, callbacks=[TrackwayCallback()]).fit(Interrupted(fail_at=2), *loaders)
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores Ctrl-C from then on
    assert _only_run(fluent).info.status == "KILLED"


def test_the_logger_alone_and_a_run_of_the_caller(
    fluent: TrackwayClient, loaders, tmp_path: Path
) -> None:
    """Inside the caller's run, the logger logs there and leaves the ending to it."""
    logger = TrackwayLogger(prefix="tiny.")
    trainer = _trainer(tmp_path, max_epochs=1, logger=logger)
    with trackway.start_run() as run:
        trainer.fit(TinyRegressor(hidden=2), *loaders)
        assert logger.run_id == run.run_id
        assert fluent.get_run(run.run_id).info.status == "RUNNING"
        trackway.log_metric("after_fit", 1.0)
    found = fluent.get_run(run.run_id)
    assert found.info.status == "FINISHED"
    assert found.data.params["tiny.hidden"] == "2"
    assert _steps(fluent, run.run_id, "tiny.train_loss") == list(range(ROWS // BATCH))
    assert "after_fit" in found.data.metrics


def test_the_logger_starts_and_ends_its_own_run(
    fluent: TrackwayClient, loaders, tmp_path: Path
) -> None:
    logger = TrackwayLogger("lightning-runs", run_name="own")
    trainer = _trainer(tmp_path, max_epochs=None, max_steps=2, logger=logger, limit_val_batches=0)
    trainer.fit(TinyRegressor(), loaders[0])
    run = fluent.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "own"
    assert fluent.get_experiment(run.info.experiment_id).name == "lightning-runs"
    assert _steps(fluent, logger.run_id, "train_loss") == [0, 1]
    assert trackway.active_run() is None


def test_import_trackway_does_not_import_lightning_or_torch() -> None:
    script = (
        "import sys, trackway\n"
        "assert 'lightning' in dir(trackway)\n"
        "assert not {'torch', 'lightning'} & set(sys.modules), 'imported too early'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert found.returncode == 0, found.stderr
