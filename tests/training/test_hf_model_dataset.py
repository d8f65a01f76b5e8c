"""The Kedro datasets for model directories: round trips, atomic saves, ``exists``."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from prism.datasets.hf_model import (
    BASE_MARKER,
    MODEL_MARKER,
    HFModelDataset,
    ModelBundle,
    StudentBaseDataset,
)
from prism.training.base_models import StudentBase, load_base_model, load_base_tokenizer


def bundle_of(base: StudentBase) -> ModelBundle:
    return ModelBundle(load_base_model(base), load_base_tokenizer(base), {"finetune": "full"})


def test_round_trip_and_exists(tiny_base, tmp_path) -> None:
    dataset = HFModelDataset(str(tmp_path / "student"))
    assert not dataset.exists()
    dataset.save(bundle_of(tiny_base))
    assert dataset.exists()
    loaded = dataset.load()
    assert loaded.metadata == {"adapter": False, "finetune": "full"}
    assert loaded.model.config.model_type == "llama"
    assert loaded.tokenizer.chat_template


def test_failed_save_leaves_no_half_written_model(tiny_base, tmp_path) -> None:
    dataset = HFModelDataset(str(tmp_path / "student"))
    dataset.save(bundle_of(tiny_base))
    before = sorted(p.name for p in (tmp_path / "student").iterdir())

    class BrokenTokenizer:
        def save_pretrained(self, path: str) -> None:
            raise OSError("disk full")

    with pytest.raises(DatasetError, match=r"disk full"):
        dataset.save(ModelBundle(load_base_model(tiny_base), BrokenTokenizer()))
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["student"]  # no temp folder left behind


def test_leftovers_of_a_killed_save_are_removed_by_the_next(tiny_base, tmp_path) -> None:
    for stale in (".student.tmp-1a2b3c4d", ".student.old-1a2b3c4d", ".student2.tmp-00000000"):
        (tmp_path / stale).mkdir()
        (tmp_path / stale / "model.safetensors").write_bytes(b"x" * 100)
    HFModelDataset(str(tmp_path / "student")).save(bundle_of(tiny_base))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student2.tmp-00000000", "student"]


def test_a_first_save_that_fails_leaves_nothing(tiny_base, tmp_path) -> None:
    dataset = HFModelDataset(str(tmp_path / "student"))
    with pytest.raises(DatasetError):
        dataset.save(ModelBundle(None, None))
    assert not dataset.exists() and list(tmp_path.iterdir()) == []


def test_loading_a_missing_model_says_what_to_run(tmp_path) -> None:
    with pytest.raises(DatasetError, match=r"kedro run --pipelines train"):
        HFModelDataset(str(tmp_path / "nothing")).load()


def test_student_base_missing_ok_loads_none(tmp_path) -> None:
    assert StudentBaseDataset(str(tmp_path / "b"), missing_ok=True).load() is None
    with pytest.raises(DatasetError, match=r"no student base"):
        StudentBaseDataset(str(tmp_path / "b")).load()


def test_builtin_base_is_saved_once_and_loaded_as_a_reference(tiny_base_dir, tmp_path) -> None:
    dataset = StudentBaseDataset(str(tiny_base_dir))
    base = dataset.load()
    assert base.is_builtin and base.model is None
    assert base.name_or_path == str(tiny_base_dir.resolve())
    stamp = (tiny_base_dir / BASE_MARKER).stat().st_mtime_ns
    dataset.save(base)  # reused as is: nothing rewritten
    assert (tiny_base_dir / BASE_MARKER).stat().st_mtime_ns == stamp
    copy = StudentBaseDataset(str(tmp_path / "copy"))
    copy.save(base)  # a built-in base from elsewhere is copied
    assert (tmp_path / "copy" / "model.safetensors").is_file()
    assert copy.load().builtin_spec == base.builtin_spec


def test_pretrained_base_is_saved_as_a_pointer(tmp_path) -> None:
    dataset = StudentBaseDataset(str(tmp_path / "base"))
    dataset.save(StudentBase(name_or_path="meta-llama/Llama-3.2-3B-Instruct"))
    assert [p.name for p in (tmp_path / "base").iterdir()] == [BASE_MARKER]
    assert dataset.load().name_or_path == "meta-llama/Llama-3.2-3B-Instruct"
    assert MODEL_MARKER != BASE_MARKER


def test_a_lora_student_whose_base_moved_is_one_clear_error(tiny_base_dir, tmp_path) -> None:
    import shutil

    from peft import LoraConfig, get_peft_model

    base_dir = tmp_path / "student_base"
    shutil.copytree(tiny_base_dir, base_dir)
    base = StudentBaseDataset(str(base_dir)).load()
    model = get_peft_model(
        load_base_model(base), LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM")
    )
    dataset = HFModelDataset(str(tmp_path / "run" / "student"))
    dataset.save(ModelBundle(model, load_base_tokenizer(base), {"finetune": "lora"}))
    assert dataset.load().metadata["adapter"]  # loads while the base is where it was

    shutil.move(base_dir, tmp_path / "run" / "student_base")  # the run directory was reorganised
    with pytest.raises(DatasetError, match="LoRA adapter whose base model is missing") as error:
        dataset.load()
    assert str(base_dir) in str(error.value)
    assert "a student base is at" in str(error.value)  # the hint finds it next to the adapter
