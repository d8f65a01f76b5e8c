"""The training pipeline's nodes as plain functions, and the pipeline's wiring."""

from __future__ import annotations

import pytest

from prism.formats.errors import DataFormatError
from prism.pipelines.training import create_pipeline
from prism.pipelines.training.nodes import (
    check_training_inputs,
    load_training_samples,
    split_train_val,
)
from prism.training.config import TrainConfig
from prism.training.errors import EmptyTrainingDataError, TrainConfigError


def test_samples_in_any_supported_format_get_ids() -> None:
    records = [
        {"conversations": [{"from": "human", "value": "task: x"}, {"from": "gpt", "value": "{}"}]}
    ]
    (sample,) = load_training_samples(records)
    assert sample["conversations"][1]["role"] == "assistant" and len(sample["id"]) == 16


def test_empty_dataset_is_refused() -> None:
    with pytest.raises(
        EmptyTrainingDataError, match=r"training_data: the dataset holds no samples"
    ):
        load_training_samples([])


def test_invalid_records_name_the_sample_and_field() -> None:
    with pytest.raises(DataFormatError, match=r"training_data"):
        load_training_samples([{"conversations": [{"role": "bot", "value": "hi"}]}])


def test_the_parameters_are_checked_once_into_a_train_config() -> None:
    config = check_training_inputs({"val_frac": 0.2, "seed": 1, "builtin_model": {"seed": 3}})
    assert isinstance(config, TrainConfig) and config.builtin_model.seed == 3
    with pytest.raises(TrainConfigError, match=r"TrainConfig.val_frac"):
        check_training_inputs({"val_frac": 1.5})
    with pytest.raises(TrainConfigError, match=r"unknown key\(s\) \['lr'\]"):
        check_training_inputs({"lr": 1e-4})


def test_split_reads_val_frac_and_seed_from_the_config() -> None:
    samples = [{"id": f"{i:04d}", "conversations": []} for i in range(100)]
    split = split_train_val(samples, TrainConfig(val_frac=0.2, seed=1))
    assert split["seed"] == 1 and 8 <= len(split["val"]) <= 35


def test_every_input_and_output_is_a_catalog_name() -> None:
    pipeline = create_pipeline()
    assert pipeline.inputs() == {
        "training_data",
        "student_base_cache",
        "params:training",
        "training_checkpoints",
    }
    assert pipeline.all_outputs() == {
        "training_config",
        "training_samples",
        "training_split",
        "student_base",
        "student_model",
        "training_metrics",
    }


def test_episodes_can_share_one_base() -> None:
    pipeline = create_pipeline(build_base=False)
    assert pipeline.inputs() == {
        "training_data",
        "student_base",
        "params:training",
        "training_checkpoints",
    }
    assert "prepare_student_base" not in {node.name for node in pipeline.nodes}


def test_every_node_after_the_check_takes_the_typed_config() -> None:
    nodes = {node.name: node for node in create_pipeline().nodes}
    for name in ("split_train_val", "train_student", "prepare_student_base"):
        assert (
            "training_config" in nodes[name].inputs and "params:training" not in nodes[name].inputs
        )
    assert nodes["check_training_inputs"].inputs == ["params:training"]
