"""kedro-datasets' table and figure datasets, saved atomically to local disk.

The stock ``pandas.CSVDataset`` and ``matplotlib.MatplotlibDataset`` write in place: a run
killed while saving leaves a truncated file, and a resumed run, which skips a node whose
outputs exist, would keep it. These write to a temporary file next to the target and rename
it (:func:`prism.formats.json_io.write_bytes_atomic`). Other filesystems (s3, gcs, ...) save
as the stock datasets do. Loading, previews in kedro-viz and every option are the stock ones.
"""

from __future__ import annotations

import io

import pandas as pd
from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from matplotlib.figure import Figure

from prism.formats.json_io import write_bytes_atomic


class AtomicCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` whose saves to local disk are atomic."""

    def save(self, data: pd.DataFrame) -> None:
        if self._protocol != "file":
            super().save(data)
            return
        encoding = self._fs_open_args_save.get("encoding") or "utf-8"
        text = data.to_csv(path_or_buf=None, **self._save_args)
        write_bytes_atomic(
            get_filepath_str(self._get_save_path(), self._protocol), text.encode(encoding)
        )
        self._invalidate_cache()


class AtomicMatplotlibDataset(MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` whose saves to local disk are atomic (each image)."""

    def _save_to_fs(self, full_key_path: str, plot: Figure) -> None:
        if self._protocol != "file":
            super()._save_to_fs(full_key_path, plot)
            return
        image = io.BytesIO()
        plot.savefig(image, **self._save_args)
        write_bytes_atomic(full_key_path, image.getvalue())
