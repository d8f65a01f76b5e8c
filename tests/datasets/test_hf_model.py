"""The Kedro datasets for model directories: they save and load through the model layer, report
its errors as Kedro's ``DatasetError`` with the same message, and ``exists`` once saved."""

from __future__ import annotations

from typing import Any

import pytest
from kedro.io import DatasetError

from prism.datasets import HFModelDataset, StudentBaseDataset
from prism.student.bundle import BASE_MARKER, ModelBundle
from prism.training.base_models import StudentBase
from tests.conftest import tiny_compact_model


@pytest.fixture(scope="module")
def tiny_model(samples: list[dict[str, Any]]) -> tuple[Any, Any]:
    """A tiny random-init Llama and its tokenizer."""
    return tiny_compact_model(samples)


def test_round_trip_and_exists(tiny_model, tmp_path) -> None:
    dataset = HFModelDataset(str(tmp_path / "student"))
    assert not dataset.exists()
    dataset.save(ModelBundle(*tiny_model, {"finetune": "full"}))
    assert dataset.exists()
    loaded = dataset.load()
    assert loaded.metadata == {"adapter": False, "finetune": "full"}
    assert loaded.model.config.model_type == "llama"
    assert loaded.tokenizer.chat_template


def test_load_args_reach_from_pretrained(tiny_model, tmp_path) -> None:
    import torch

    HFModelDataset(str(tmp_path / "student")).save(ModelBundle(*tiny_model))
    dataset = HFModelDataset(str(tmp_path / "student"), load_args={"dtype": torch.float16})
    assert dataset.load().model.dtype == torch.float16


def test_failed_save_is_a_dataset_error_and_keeps_the_old_model(tiny_model, tmp_path) -> None:
    dataset = HFModelDataset(str(tmp_path / "student"))
    dataset.save(ModelBundle(*tiny_model))
    before = sorted(p.name for p in (tmp_path / "student").iterdir())

    class BrokenTokenizer:
        def save_pretrained(self, path: str) -> None:
            raise OSError("disk full")

    with pytest.raises(DatasetError, match=r"disk full"):
        dataset.save(ModelBundle(tiny_model[0], BrokenTokenizer()))
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["student"]


def test_a_first_save_that_fails_leaves_nothing(tmp_path) -> None:
    dataset = HFModelDataset(str(tmp_path / "student"))
    with pytest.raises(DatasetError):
        dataset.save(ModelBundle(None, None))
    assert not dataset.exists() and list(tmp_path.iterdir()) == []


def test_the_model_layers_errors_keep_their_message(tmp_path) -> None:
    with pytest.raises(DatasetError, match=r"^\S+nothing: no trained model here.*kedro run"):
        HFModelDataset(str(tmp_path / "nothing")).load()
    with pytest.raises(DatasetError, match=r"^\S+student: expected a prism.student.bundle"):
        HFModelDataset(str(tmp_path / "student")).save({"model": None})


def test_student_base_missing_ok_loads_none(tmp_path) -> None:
    assert StudentBaseDataset(str(tmp_path / "b"), missing_ok=True).load() is None
    with pytest.raises(DatasetError, match=r"^\S+b: no student base"):
        StudentBaseDataset(str(tmp_path / "b")).load()


def test_student_base_round_trip_and_exists(tmp_path) -> None:
    dataset = StudentBaseDataset(str(tmp_path / "base"))
    assert not dataset.exists()
    dataset.save(StudentBase(name_or_path="meta-llama/Llama-3.2-3B-Instruct"))
    assert dataset.exists() and (tmp_path / "base" / BASE_MARKER).is_file()
    assert dataset.load().name_or_path == "meta-llama/Llama-3.2-3B-Instruct"
