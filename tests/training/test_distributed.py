"""Data-parallel training: two gloo processes on CPU train one student."""

from __future__ import annotations

import pytest

from prism.student.bundle import load_bundle, save_bundle
from prism.training.split import split_ids
from prism.training.train import train_student

from .conftest import tiny_config


@pytest.mark.slow
def test_two_processes_on_cpu_train_a_student_that_loads(samples, tiny_base, tmp_path) -> None:
    split = split_ids([s["id"] for s in samples], 0.1, seed=42)
    config = tiny_config(nproc=2, epochs=3, per_device_train_batch_size=4)
    bundle, metrics = train_student(samples, split, tiny_base, config)
    assert metrics["world_size"] == 2
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert metrics["val_loss_after"] < metrics["val_loss_before"]
    # each step consumes a batch per process: half the steps of a one-process run
    assert metrics["steps"] == 3 * -(-len(split["train"]) // 8)
    save_bundle(bundle, tmp_path / "student")
    assert load_bundle(tmp_path / "student").model.config.model_type == "llama"
