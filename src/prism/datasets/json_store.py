"""Kedro datasets of JSON: a :class:`~prism.formats.json_store.JsonStore` folder handed to a node,
and kedro-datasets' JSON dataset with atomic saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import DatasetError
from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset as _KedroJSONDataset

from prism.datasets.local_path import LocalPathDataset
from prism.formats.json_io import write_json_atomic
from prism.formats.json_store import JsonStore


class JsonStoreDataset(LocalPathDataset[JsonStore, JsonStore]):
    """Kedro dataset whose ``load()`` hands the node a :class:`JsonStore` on ``filepath``.

    ``save`` accepts the store back (a no-op: records are written as they are produced).

    Example catalog entry::

        generation.rollout_store:
          type: prism.datasets.JsonStoreDataset
          filepath: data/02_intermediate/data_gen
    """

    def load(self) -> JsonStore:
        return JsonStore(self._filepath)

    def save(self, data: JsonStore) -> None:
        if Path(data.root).resolve() != self._filepath.resolve():
            raise DatasetError(f"a JsonStore for {data.root} cannot be saved to {self._filepath}")

    def _exists(self) -> bool:
        return self._filepath.is_dir()


class AtomicJSONDataset(_KedroJSONDataset):
    """kedro-datasets' ``json.JSONDataset`` whose saves to local disk are atomic.

    The stock dataset writes in place, so a run killed while saving leaves a truncated file that
    the next run cannot read. Other filesystems (s3, gcs, ...) save as the stock dataset does.
    """

    def save(self, data: Any) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        write_json_atomic(
            get_filepath_str(self._get_save_path(), self._protocol), data, **self._save_args
        )
        self._invalidate_cache()
