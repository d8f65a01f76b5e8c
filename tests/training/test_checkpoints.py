"""Resumable training: a run stopped mid-way and started again goes on from its last checkpoint
and ends with the weights of an uninterrupted run."""

from __future__ import annotations

import logging

import pytest
import torch
from transformers import TrainerCallback

from prism.training.checkpoints import (
    last_complete_checkpoint,
    release_checkpoints,
    remove_stale_runs,
)
from prism.training.split import split_ids
from prism.training.train import train_student, training_fingerprint

from .conftest import tiny_config


class _Stop(Exception):
    """What the interrupted run dies of."""


class _StopAfter(TrainerCallback):
    """Ends the process's training abruptly after ``step`` steps, as a kill would: no model is
    returned, whatever checkpoints were written stay on disk."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise _Stop


def _weights(bundle) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in bundle.model.state_dict().items()}


def test_a_stopped_run_resumes_from_its_checkpoint_and_matches_an_uninterrupted_one(
    samples, tiny_base, tmp_path, monkeypatch, caplog
):
    config = tiny_config(epochs=2, checkpoint_every=2, finetune="lora")
    split = split_ids([s["id"] for s in samples], config.val_frac, config.seed)
    uninterrupted, straight = train_student(
        samples, split, tiny_base, config, checkpoint_root=tmp_path / "a"
    )
    assert straight["resumed_from_step"] is None and straight["steps"] == 12  # 6 per epoch

    root = tmp_path / "b"
    import prism.training.fit as fit_module

    real_trainer = fit_module.ResumableTrainer

    class StoppingTrainer(real_trainer):  # the first run dies in epoch 2
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(_StopAfter(9))

    monkeypatch.setattr(fit_module, "ResumableTrainer", StoppingTrainer)
    with pytest.raises(_Stop):
        train_student(samples, split, tiny_base, config, checkpoint_root=root)
    monkeypatch.setattr(fit_module, "ResumableTrainer", real_trainer)
    run_dir = root / training_fingerprint(samples, split, tiny_base, config)
    assert last_complete_checkpoint(run_dir) == str(run_dir / "checkpoint-8")

    with caplog.at_level(logging.INFO, logger="prism.training.fit"):
        resumed, metrics = train_student(samples, split, tiny_base, config, checkpoint_root=root)

    assert "Resuming the training" in caplog.text
    assert metrics["resumed_from_step"] == 8 and metrics["steps"] == straight["steps"]
    # The log of the steps before the stop comes back with the checkpoint.
    assert len(metrics["train_losses"]) == len(straight["train_losses"])
    assert metrics["val_loss_before"] == pytest.approx(straight["val_loss_before"])
    a, b = _weights(uninterrupted), _weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    # Kept until the model is saved (a kill in between must still resume), then released.
    assert last_complete_checkpoint(run_dir) == str(run_dir / "checkpoint-12")
    release_checkpoints(root)
    assert not root.exists()


def test_other_settings_never_resume_a_strangers_checkpoint(samples, tiny_base, tmp_path):
    config = tiny_config(epochs=1, checkpoint_every=1)
    split = split_ids([s["id"] for s in samples], config.val_frac, config.seed)
    key = training_fingerprint(samples, split, tiny_base, config)
    assert key == training_fingerprint(
        samples, split, tiny_base, tiny_config(epochs=1, checkpoint_every=7, report_to="wandb")
    ), "how a run is watched does not change what it learns"
    for changed in (
        training_fingerprint(samples, split, tiny_base, tiny_config(epochs=2, checkpoint_every=1)),
        training_fingerprint(samples[1:], split, tiny_base, config),
        training_fingerprint(samples, {**split, "val": []}, tiny_base, config),
    ):
        assert changed != key

    stale = tmp_path / "0123456789abcdef" / "checkpoint-3"
    stale.mkdir(parents=True)
    keep = tmp_path / "user_notes"
    keep.mkdir()
    remove_stale_runs(tmp_path, keep=key)
    assert not stale.parent.exists() and keep.exists()


def test_a_checkpoint_written_half_way_is_passed_over(tmp_path, caplog):
    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-10").mkdir()  # killed while writing: no trainer_state.json yet
    (tmp_path / "checkpoint-x").mkdir()
    for step, cut_short in ((6, ""), (8, '{"global_step": 8, "log_hi')):  # killed mid-write
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(cut_short)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    for step in (10, 8, 6):
        assert f"checkpoint-{step} was not written to the end" in caplog.text
    assert last_complete_checkpoint(tmp_path / "missing") is None


def test_checkpoint_every_zero_writes_none(samples, tiny_base, tmp_path):
    config = tiny_config(epochs=1, checkpoint_every=0)
    split = split_ids([s["id"] for s in samples], config.val_frac, config.seed)
    train_student(samples, split, tiny_base, config, checkpoint_root=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_the_hook_releases_the_checkpoints_once_the_model_is_saved(tmp_path):
    from types import SimpleNamespace

    from kedro.io import DataCatalog

    from prism.datasets import WorkDirDataset
    from prism.hooks import TrainingCheckpointsHook

    folder = tmp_path / "episode_2" / "checkpoints"
    (folder / "0123456789abcdef" / "checkpoint-4").mkdir(parents=True)
    name = "iterative.episode_2.training_checkpoints"
    catalog = DataCatalog({name: WorkDirDataset(str(folder))})
    hook = TrainingCheckpointsHook()
    hook.after_catalog_created(catalog)
    train = SimpleNamespace(name="iterative.episode_2.train_student", inputs=["x", name])

    hook.after_dataset_saved("iterative.episode_2.training_metrics", train)
    hook.after_dataset_saved(
        "iterative.episode_2.student_model", SimpleNamespace(name="other", inputs=[name])
    )
    assert folder.exists(), "only the train node's saved model releases them"
    hook.after_dataset_saved("iterative.episode_2.student_model", train)
    assert not folder.exists()
