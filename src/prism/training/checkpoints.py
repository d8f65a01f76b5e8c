"""Resumable training: where a run's Trainer checkpoints live and which one to resume from.

A training run writes its checkpoints into a folder named after a fingerprint of everything
that decides its result (the samples of both splits, the configuration, the base), so a run
started again with the same inputs resumes, and a run with other inputs never resumes a
stranger's state. The Trainer writes a checkpoint's ``trainer_state.json`` last: a folder
without it, or with one cut short, is one a killed run was still writing, and is passed over. The checkpoints are
deleted only once the trained model has been saved (:func:`release_checkpoints`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)

#: The file the Trainer writes last into a checkpoint.
TRAINER_STATE = "trainer_state.json"

_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")


def last_complete_checkpoint(folder: str | Path) -> str | None:
    """The newest ``checkpoint-N`` in ``folder`` that was written to the end, or ``None``."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for path in folder.iterdir():
        match = _CHECKPOINT.match(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        if _whole_json(path / TRAINER_STATE):
            return str(path)
        logger.warning("%s was not written to the end (a killed run?); passing it over", path)
    return None


def _whole_json(path: Path) -> bool:
    """``path`` holds a JSON document to its end: a kill can land while the Trainer writes
    ``trainer_state.json`` (it writes in place), leaving it empty or cut short."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def remove_stale_runs(root: str | Path, keep: str | None = None) -> None:
    """Delete the checkpoint folders of training runs under ``root``, all but ``keep``.

    Only folders named like a fingerprint are touched. Called with ``keep`` when a run starts:
    the others were stopped and then started with other data or settings, and can never be
    resumed.
    """
    root = Path(root)
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.is_dir() and path.name != keep and _FINGERPRINT.match(path.name):
            if keep is not None:
                logger.info("Removing the checkpoints of an earlier, different run: %s", path)
            shutil.rmtree(path, ignore_errors=True)


def release_checkpoints(root: str | Path) -> None:
    """Delete every training run's checkpoints under ``root``, and ``root`` once empty.

    Called once the trained model is on disk (:class:`prism.hooks.TrainingCheckpointsHook`, or
    the Python API after saving): until then a killed run must be able to resume them.
    """
    remove_stale_runs(root)
    with contextlib.suppress(OSError):  # left when something else is in it, or missing
        Path(root).rmdir()
