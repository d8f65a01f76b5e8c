"""The training pipeline's nodes as plain functions, and the pipeline's wiring."""

from __future__ import annotations

import pytest

from prism.formats.errors import DataFormatError
from prism.pipelines.training import create_pipeline
from prism.pipelines.training.nodes import load_training_samples, split_train_val
from prism.training.errors import EmptyTrainingDataError


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


def test_split_reads_val_frac_and_seed_from_parameters() -> None:
    samples = [{"id": f"{i:04d}", "conversations": []} for i in range(100)]
    split = split_train_val(samples, {"val_frac": 0.2, "seed": 1})
    assert split["seed"] == 1 and 8 <= len(split["val"]) <= 35
    with pytest.raises(ValueError, match=r"TrainConfig.val_frac"):
        split_train_val(samples, {"val_frac": 1.5})


def test_every_input_and_output_is_a_catalog_name() -> None:
    pipeline = create_pipeline()
    assert pipeline.inputs() == {
        "training_data",
        "student_base_cache",
        "params:training",
        "training_checkpoints",
    }
    assert pipeline.all_outputs() == {
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
