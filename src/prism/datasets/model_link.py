"""The ``best_model`` link of an iterative run: a Kedro dataset that points at one episode's model."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from prism.datasets.hf_model import HFModelDataset
from prism.formats.atomic import write_dir_atomic
from prism.student.bundle import ModelBundle

logger = logging.getLogger(__name__)


class ModelLinkDataset(AbstractDataset[Mapping[str, Any], ModelBundle]):
    """A link named ``filepath`` to a sibling model directory chosen when saving.

    ``save`` takes a selection such as ``{"episode": 3, ...}``; the target is ``target``
    formatted with it (``iterative_model_episode_{episode}`` gives
    ``iterative_model_episode_3``). The link is relative, so the output folder can be moved;
    where symlinks are not available (some Windows setups, some network filesystems) the model
    directory is copied instead. Either way the switch is atomic: a reader sees the old or the
    new model, never none. ``load`` returns the linked model as
    :class:`~prism.datasets.hf_model.HFModelDataset` does.

    ``exists`` is always false: the link is re-pointed on every run, so that a run continued
    with more episodes (``--only-missing-outputs``) ranks the new episodes too.

    Example catalog entry::

        iterative.best_model:
          type: prism.datasets.ModelLinkDataset
          filepath: output/iterative_training/best_model
          target: iterative_model_episode_{episode}
    """

    def __init__(self, filepath: str, target: str, metadata: dict[str, Any] | None = None) -> None:
        """Create the dataset.

        Args:
            filepath: the link.
            target: the name of the linked directory, a format string of the selection's keys.
            metadata: free-form catalog metadata.
        """
        self._filepath = Path(filepath)
        self._target = target
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "target": self._target}

    def _exists(self) -> bool:
        return False

    def _load(self) -> ModelBundle:
        return HFModelDataset(str(self._filepath)).load()

    def _save(self, data: Mapping[str, Any]) -> None:
        try:
            name = self._target.format(**data)
        except (KeyError, IndexError) as err:
            raise DatasetError(
                f"{self._filepath}: target {self._target!r} needs {err} in the selection {data!r}"
            ) from None
        target = self._filepath.parent / name
        if not target.is_dir():
            raise DatasetError(f"{self._filepath}: cannot link to {target}, no such directory")
        link = self._filepath
        if link.is_symlink() and os.readlink(link) == name:
            return
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".{link.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            os.symlink(name, tmp, target_is_directory=True)
        except (OSError, NotImplementedError) as err:
            logger.warning("%s: symlinks unavailable (%s); copying %s instead", link, err, name)
            write_dir_atomic(
                link, lambda tmp_dir: shutil.copytree(target, tmp_dir, dirs_exist_ok=True)
            )
            return
        if link.is_dir() and not link.is_symlink():
            # A copy made where symlinks failed before: swap it out like any directory.
            old = link.with_name(f".{link.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(link, old)
            os.replace(tmp, link)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, link)  # atomic over an existing link
        logger.info("%s -> %s", link, name)
