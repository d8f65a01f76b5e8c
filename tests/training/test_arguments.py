"""Where a training run reports to."""

from __future__ import annotations

import os

from prism.training.arguments import configure_reporting


def test_wandb_is_offline_unless_the_user_chose(monkeypatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert configure_reporting("wandb") == ["wandb"]
    assert os.environ["WANDB_MODE"] == "offline"
    monkeypatch.setenv("WANDB_MODE", "online")
    configure_reporting("wandb")
    assert os.environ["WANDB_MODE"] == "online"
    assert configure_reporting("none") == []
