"""The Trainer callbacks: a readable loss log."""

from __future__ import annotations

from types import SimpleNamespace

from prism.training.callbacks import StepLogCallback


def test_the_log_shows_about_ten_training_losses_and_every_validation_loss(caplog) -> None:
    callback, args = StepLogCallback(), SimpleNamespace(logging_steps=1)
    state = SimpleNamespace(is_world_process_zero=True, max_steps=95, global_step=0)
    with caplog.at_level("DEBUG", logger="prism.training.callbacks"):
        for step in range(1, 96):
            state.global_step = step
            callback.on_log(args, state, None, logs={"loss": 1.0 / step, "epoch": step / 95})
        callback.on_log(args, state, None, logs={"eval_loss": 0.5})
    info = [r.getMessage().split()[1] for r in caplog.records if r.levelname == "INFO"]
    assert info == ["1/95", *(f"{n}/95" for n in range(9, 95, 9)), "95/95", "95/95"]
    assert "val loss 0.5000" in caplog.records[-1].getMessage()
    assert sum(r.levelname == "DEBUG" for r in caplog.records) == 95 - len(info) + 1
