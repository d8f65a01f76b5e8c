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

    With ``missing_ok: true`` a missing file loads as ``None``: a pipeline declares one file twice,
    as an optional input (what an earlier run left) and as an output (what this run writes), as
    the iterative loop's ``iterative.previous_run`` / ``iterative.run_record`` do.

    Example catalog entry::

        iterative.previous_run:
          type: prism.datasets.AtomicJSONDataset
          filepath: output/iterative_training/iterative_run.json
          missing_ok: true
    """

    def __init__(self, *, missing_ok: bool = False, **kwargs: Any) -> None:
        """Create the dataset: ``missing_ok`` and kedro-datasets' ``JSONDataset`` arguments
        (``filepath``, ``save_args``, ``metadata``, ...)."""
        super().__init__(**kwargs)
        self._missing_ok = missing_ok

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "missing_ok": self._missing_ok}

    def load(self) -> Any:
        """The parsed file; ``None`` when it is missing and ``missing_ok`` is set."""
        if self._missing_ok and not self._exists():
            return None
        return super().load()

    def save(self, data: Any) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        write_json_atomic(
            get_filepath_str(self._get_save_path(), self._protocol), data, **self._save_args
        )
        self._invalidate_cache()
