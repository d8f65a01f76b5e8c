"""Warm start: a run continues from a saved student's weights instead of the fresh base."""

from __future__ import annotations

import pytest
import torch

from prism.student.bundle import save_bundle
from prism.training.errors import TrainConfigError
from prism.training.split import split_ids
from prism.training.train import train_student, training_fingerprint
from prism.training.warm_start import weights_digest

from .conftest import tiny_config


def _lora(bundle) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in bundle.model.state_dict().items() if "lora" in k}


@pytest.fixture
def saved(samples, tiny_base, tmp_path):
    """A LoRA student trained for two epochs and saved."""
    config = tiny_config(finetune="lora", epochs=2)
    split = split_ids([s["id"] for s in samples], config.val_frac, config.seed)
    bundle, _ = train_student(samples, split, tiny_base, config)
    save_bundle(bundle, tmp_path / "episode_1")
    return tmp_path / "episode_1", _lora(bundle), split


def test_a_continued_run_starts_from_the_saved_weights(samples, tiny_base, saved):
    path, weights, split = saved
    frozen = tiny_config(finetune="lora", epochs=1, learning_rate=1e-12)
    continued, metrics = train_student(samples, split, tiny_base, frozen, init_from=path)
    fresh, _ = train_student(samples, split, tiny_base, frozen)
    after = _lora(continued)
    assert after.keys() == weights.keys()
    for name in weights:  # a learning rate of 1e-12: the saved weights come through
        torch.testing.assert_close(after[name], weights[name])
    assert any(not torch.equal(_lora(fresh)[k], weights[k]) for k in weights)
    assert metrics["continued_from"] == str(path)


def test_continuing_changes_the_checkpoint_fingerprint_and_only_then(samples, tiny_base, saved):
    path, _, split = saved
    config = tiny_config(finetune="lora")
    plain = training_fingerprint(samples, split, tiny_base, config)
    assert plain == training_fingerprint(samples, split, tiny_base, config, None)
    assert plain != training_fingerprint(samples, split, tiny_base, config, path)
    assert len(weights_digest(path)) == 16


def test_a_student_of_another_mode_or_base_is_refused(samples, tiny_base, saved, tmp_path):
    path, _, split = saved
    with pytest.raises(TrainConfigError, match="finetune 'lora', this run is 'full'"):
        train_student(samples, split, tiny_base, tiny_config(finetune="full"), init_from=path)
    with pytest.raises(TrainConfigError, match="no saved student to continue from"):
        train_student(samples, split, tiny_base, tiny_config(), init_from=tmp_path / "nothing")
