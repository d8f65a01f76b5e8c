"""A :class:`~prism.training.base_models.StudentBase` on disk: a student-base directory.

A built-in base is saved in full (weights, tokenizer, the spec it was built with) and loaded back
as a reference to its directory; a pretrained base is saved as a pointer file only (its hub id or
path), never a multi-GB copy. Loading never reads weights: the trainer loads them from
``name_or_path`` when it needs them. The directory's marker, ``prism_base.json``, holds
``name_or_path`` (``null`` for the directory itself) and ``builtin_spec``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Literal, overload

from prism.formats.atomic import write_dir_atomic
from prism.student.bundle import BASE_MARKER, ModelDirectoryError
from prism.training.base_models import StudentBase


def is_saved_student_base(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a student base (its ``prism_base.json`` was written)."""
    return (Path(path) / BASE_MARKER).is_file()


def save_student_base(base: StudentBase, path: str | os.PathLike[str]) -> None:
    """Save ``base`` into the directory ``path``, atomically.

    A built-in base held in memory is saved with ``save_pretrained``; one that lives in another
    directory is copied; one reused from ``path`` itself is left as it is (nothing rewritten).
    A pretrained base is saved as its marker only.
    """
    path = Path(path)
    here = path.resolve()
    if base.model is None and base.is_builtin and Path(base.name_or_path).resolve() == here:
        return  # a built-in base reused from this very directory: already on disk
    marker = {"name_or_path": base.name_or_path, "builtin_spec": base.builtin_spec}

    def write(tmp: Path) -> None:
        if base.is_builtin:
            if base.model is not None:
                base.model.save_pretrained(tmp)
                base.tokenizer.save_pretrained(tmp)
            else:  # a built-in base that lives in another directory
                shutil.copytree(base.name_or_path, tmp, dirs_exist_ok=True)
            marker["name_or_path"] = None  # the directory itself
        (tmp / BASE_MARKER).write_text(json.dumps(marker, indent=2))

    write_dir_atomic(path, write)


@overload
def load_student_base(
    path: str | os.PathLike[str], missing_ok: Literal[False] = False
) -> StudentBase: ...
@overload
def load_student_base(path: str | os.PathLike[str], missing_ok: bool) -> StudentBase | None: ...
def load_student_base(path: str | os.PathLike[str], missing_ok: bool = False) -> StudentBase | None:
    """Load the student base saved in ``path`` by :func:`save_student_base` (no weights read).

    Args:
        path: the base's directory.
        missing_ok: return ``None`` instead of failing when nothing was saved there yet.

    Raises:
        ModelDirectoryError: ``path`` holds no student base and ``missing_ok`` is false.
    """
    path = Path(path)
    if not is_saved_student_base(path):
        if missing_ok:
            return None
        raise ModelDirectoryError(
            f"{path}: no student base here (missing {BASE_MARKER}); run "
            "`kedro run --pipelines train` to build or reference one."
        )
    marker = json.loads((path / BASE_MARKER).read_text())
    name_or_path = marker.get("name_or_path") or str(path.resolve())
    return StudentBase(name_or_path=name_or_path, builtin_spec=marker.get("builtin_spec"))
