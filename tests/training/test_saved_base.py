"""A student base on disk: a built-in base saved once and loaded as a reference, a pretrained base
saved as a pointer."""

from __future__ import annotations

import pytest

from prism.student.bundle import BASE_MARKER, MODEL_MARKER, ModelDirectoryError
from prism.training.base_models import StudentBase
from prism.training.saved_base import (
    is_saved_student_base,
    load_student_base,
    save_student_base,
)


def test_student_base_missing_ok_loads_none(tmp_path) -> None:
    assert load_student_base(tmp_path / "b", missing_ok=True) is None
    with pytest.raises(ModelDirectoryError, match=r"no student base"):
        load_student_base(tmp_path / "b")
    assert not is_saved_student_base(tmp_path / "b")


def test_builtin_base_is_saved_once_and_loaded_as_a_reference(tiny_base_dir, tmp_path) -> None:
    base = load_student_base(tiny_base_dir)
    assert base.is_builtin and base.model is None
    assert base.name_or_path == str(tiny_base_dir.resolve())
    stamp = (tiny_base_dir / BASE_MARKER).stat().st_mtime_ns
    save_student_base(base, tiny_base_dir)  # reused as is: nothing rewritten
    assert (tiny_base_dir / BASE_MARKER).stat().st_mtime_ns == stamp
    save_student_base(base, tmp_path / "copy")  # a built-in base from elsewhere is copied
    assert (tmp_path / "copy" / "model.safetensors").is_file()
    assert load_student_base(tmp_path / "copy").builtin_spec == base.builtin_spec


def test_pretrained_base_is_saved_as_a_pointer(tmp_path) -> None:
    save_student_base(StudentBase(name_or_path="meta-llama/Llama-3.2-3B-Instruct"), tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == [BASE_MARKER]
    assert is_saved_student_base(tmp_path / "b")
    assert load_student_base(tmp_path / "b").name_or_path == "meta-llama/Llama-3.2-3B-Instruct"
    assert MODEL_MARKER != BASE_MARKER
