"""A Kedro dataset for training conversations, validated on load with errors that name the file."""

from __future__ import annotations

from typing import Any

from kedro.io import DatasetError

from prism.datasets.local_path import LocalPathDataset
from prism.formats.conversations import read_samples, write_samples


class ConversationsFileDataset(LocalPathDataset[list[dict[str, Any]], list[dict[str, Any]]]):
    """A JSON file of training conversations as canonical samples (``id``, ``conversations``
    with ``role``/``value``, other keys kept).

    ``load`` reads the seed format, ``content`` keys and ShareGPT alike and raises
    :class:`~prism.formats.errors.DataFormatError` naming the file, sample and field at fault.
    ``save`` writes the canonical form atomically.

    Example catalog entry::

        training_data:
          type: prism.datasets.ConversationsFileDataset
          filepath: data/01_raw/initial_dataset.json
    """

    def __init__(self, filepath: str | None, metadata: dict[str, Any] | None = None) -> None:
        """Create the dataset; ``filepath: null`` is an optional input that is not configured
        (``load`` returns ``None``), e.g. ``${runtime_params:held_out_data, null}``."""
        self._optional_unset = filepath is None
        super().__init__(filepath or ".", metadata)

    def load(self) -> list[dict[str, Any]] | None:
        if self._optional_unset:
            return None
        return read_samples(self._filepath)

    def _exists(self) -> bool:
        return not self._optional_unset and super()._exists()

    def save(self, data: list[dict[str, Any]]) -> None:
        if self._optional_unset:
            raise DatasetError("this conversations dataset has no filepath to save to")
        write_samples(data, self._filepath)
