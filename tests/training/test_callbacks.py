"""The Trainer callbacks: one progress bar per training run and a readable loss log."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from prism.progress import PROGRESS_ENV
from prism.training.callbacks import ProgressBarCallback, StepLogCallback


def test_the_log_shows_every_validation_loss_and_the_training_losses_at_debug(caplog) -> None:
    callback, args = StepLogCallback(), SimpleNamespace(logging_steps=1)
    state = SimpleNamespace(is_world_process_zero=True, max_steps=95, global_step=0)
    with caplog.at_level("DEBUG", logger="prism.training.callbacks"):
        callback.on_log(args, state, None, logs={"eval_loss": 0.7})
        for step in range(1, 96):
            state.global_step = step
            callback.on_log(args, state, None, logs={"loss": 1.0 / step, "epoch": step / 95})
        callback.on_log(args, state, None, logs={"eval_loss": 0.5})
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert info == ["step 0/95  val loss 0.7000", "step 95/95  val loss 0.5000"]
    debug = [r.getMessage() for r in caplog.records if r.levelname == "DEBUG"]
    assert len(debug) == 95 and debug[-1].startswith("step 95/95  epoch 1.00  loss 0.0105")


def test_a_training_run_is_one_bar_with_its_latest_loss(monkeypatch, caplog) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "lines")  # as in a log file: the lines say what a bar shows
    callback = ProgressBarCallback()
    args = SimpleNamespace(run_name="iterative_model_episode_1")
    state = SimpleNamespace(is_world_process_zero=True, max_steps=6, global_step=0)
    with caplog.at_level(logging.INFO, logger="prism.progress"):
        callback.on_train_begin(args, state, None)
        for step in range(1, 7):
            state.global_step = step
            callback.on_step_end(args, state, None)
            callback.on_log(args, state, None, logs={"loss": 1.0 / step})
            if step == 3:  # a validation pass: a transient bar of its own
                for _ in range(2):
                    callback.on_prediction_step(args, state, None, eval_dataloader=[0, 1])
                callback.on_evaluate(args, state, None)
        callback.on_train_end(args, state, None)
    (line,) = [r.getMessage() for r in caplog.records]  # a short run: its last line only
    assert line.startswith("training: 6/6 (100 %)")
    assert "step/s" in line or "s/step" in line
    assert line.endswith("loss=0.1667]")
