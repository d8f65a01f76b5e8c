"""Directories written atomically: a reader sees the old directory or the finished new one.

A model directory (weights, tokenizer, marker files) is several files written one after the
other; written in place, a crash or an error mid-save would leave a half-written directory that a
later run (or ``kedro run --only-missing-outputs``) takes for a finished one. Single files are
written atomically by :func:`prism.formats.json_io.write_bytes_atomic`.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def write_dir_atomic(destination: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_dir)`` and move the finished directory to ``destination``.

    The temporary directory is a sibling of ``destination`` (same filesystem, so the final
    rename is atomic); an existing ``destination`` is swapped out only after the write
    succeeded, and on any error the temporary directory is removed and the old one kept.
    Leftovers of a writer that was killed (SIGKILL runs no cleanup) are removed first: a
    full-model copy per kill otherwise.

    Example:
        >>> write_dir_atomic(Path("data/06_models/student"), model.save_pretrained)  # doctest: +SKIP
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    for kind in ("tmp", "old"):
        for stale in destination.parent.glob(f".{glob.escape(destination.name)}.{kind}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    token = uuid.uuid4().hex[:8]
    tmp = destination.with_name(f".{destination.name}.tmp-{token}")
    old = destination.with_name(f".{destination.name}.old-{token}")
    try:
        tmp.mkdir()
        write(tmp)
        if destination.exists():
            os.replace(destination, old)
        os.replace(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not destination.exists():
            os.replace(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)
