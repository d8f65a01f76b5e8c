"""Saved students: round trips, atomic saves, and an adapter whose base moved is one clear error."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from prism.student.bundle import (
    BASE_MARKER,
    MODEL_MARKER,
    ModelBundle,
    ModelDirectoryError,
    adapter_problem,
    is_saved_bundle,
    load_bundle,
    save_bundle,
)
from tests.conftest import tiny_compact_model


@pytest.fixture(scope="module")
def tiny_model(samples: list[dict[str, Any]]) -> tuple[Any, Any]:
    """A tiny random-init Llama and its tokenizer (never modified by a test)."""
    return tiny_compact_model(samples)


def bundle_of(tiny_model: tuple[Any, Any]) -> ModelBundle:
    model, tokenizer = tiny_model
    return ModelBundle(model, tokenizer, {"finetune": "full"})


def test_round_trip(tiny_model, tmp_path) -> None:
    path = tmp_path / "student"
    assert not is_saved_bundle(path)
    save_bundle(bundle_of(tiny_model), path)
    assert is_saved_bundle(path)
    loaded = load_bundle(path)
    assert loaded.metadata == {"adapter": False, "finetune": "full"}
    assert loaded.model.config.model_type == "llama"
    assert loaded.tokenizer.chat_template


def test_the_prompt_format_is_saved_with_the_model(tiny_model, tmp_path) -> None:
    from prism.student.prompt_format import format_of

    model, tokenizer = tiny_model
    save_bundle(ModelBundle(model, tokenizer, {"prompt_format": "compact"}), tmp_path / "s")
    assert format_of(tmp_path / "s").name == "compact"
    assert load_bundle(tmp_path / "s").metadata["prompt_format"] == "compact"


def test_failed_save_leaves_no_half_written_model(tiny_model, tmp_path) -> None:
    path = tmp_path / "student"
    save_bundle(bundle_of(tiny_model), path)
    before = sorted(p.name for p in path.iterdir())

    class BrokenTokenizer:
        def save_pretrained(self, path: str) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match=r"disk full"):
        save_bundle(ModelBundle(tiny_model[0], BrokenTokenizer()), path)
    assert sorted(p.name for p in path.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["student"]  # no temp folder left behind


def test_leftovers_of_a_killed_save_are_removed_by_the_next(tiny_model, tmp_path) -> None:
    for stale in (".student.tmp-1a2b3c4d", ".student.old-1a2b3c4d", ".student2.tmp-00000000"):
        (tmp_path / stale).mkdir()
        (tmp_path / stale / "model.safetensors").write_bytes(b"x" * 100)
    save_bundle(bundle_of(tiny_model), tmp_path / "student")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".student2.tmp-00000000", "student"]


def test_a_first_save_that_fails_leaves_nothing(tmp_path) -> None:
    with pytest.raises(AttributeError):
        save_bundle(ModelBundle(None, None), tmp_path / "student")
    assert not is_saved_bundle(tmp_path / "student") and list(tmp_path.iterdir()) == []


def test_saving_something_else_than_a_bundle_names_the_directory(tmp_path) -> None:
    with pytest.raises(ModelDirectoryError, match=r"student: expected a .*ModelBundle, got dict"):
        save_bundle({"model": None}, tmp_path / "student")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_loading_a_missing_model_says_what_to_run(tmp_path) -> None:
    with pytest.raises(ModelDirectoryError, match=r"kedro run --pipelines train"):
        load_bundle(tmp_path / "nothing")


def test_an_adapter_without_its_config_is_reported(tmp_path) -> None:
    (tmp_path / "student").mkdir()
    problem = adapter_problem(tmp_path / "student", {"adapter": True})
    assert problem is not None and "adapter_config.json is missing" in problem
    assert adapter_problem(tmp_path / "student", {"adapter": False}) is None


def test_a_lora_student_whose_base_moved_is_one_clear_error(tiny_model, tmp_path) -> None:
    from peft import LoraConfig, get_peft_model

    from prism.training.base_models import StudentBase, load_base_model
    from prism.training.saved_base import load_student_base, save_student_base

    base_dir = tmp_path / "student_base"
    model, tokenizer = tiny_model
    built = StudentBase("builtin", builtin_spec={}, model=model, tokenizer=tokenizer)
    save_student_base(built, base_dir)
    assert (base_dir / BASE_MARKER).is_file() and MODEL_MARKER != BASE_MARKER
    base = load_student_base(base_dir)
    lora = get_peft_model(
        load_base_model(base), LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM")
    )
    path = tmp_path / "run" / "student"
    save_bundle(ModelBundle(lora, tokenizer, {"finetune": "lora"}), path)
    assert load_bundle(path).metadata["adapter"]  # loads while the base is where it was

    shutil.move(base_dir, tmp_path / "run" / "student_base")  # the run directory was reorganised
    with pytest.raises(ModelDirectoryError, match="LoRA adapter whose base model is missing") as e:
        load_bundle(path)
    assert str(base_dir) in str(e.value)
    assert "a student base is at" in str(e.value)  # the hint finds it next to the adapter
    assert adapter_problem(Path(path), {"adapter": True}) == str(e.value)
