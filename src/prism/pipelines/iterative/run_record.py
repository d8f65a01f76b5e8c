"""The record of an iterative run (``<output_dir>/iterative_run.json``): a Kedro dataset.

The loop declares the file twice, as ``catalog_training.yml`` does the student base: once as an
optional input, ``iterative.previous_run``, which ``check_iterative_inputs`` compares with the
run it is asked for, and once as the output ``iterative.run_record``, which ``record_run``
writes once the run is checked. A node cannot read and write one catalog entry.

It belongs with prism's other datasets (``prism.datasets``); it lives here until it is moved.
"""

from __future__ import annotations

import os
from typing import Any

from prism.datasets import AtomicJSONDataset


class RunRecordDataset(AtomicJSONDataset):
    """An atomically saved JSON file; with ``missing_ok: true`` a missing file loads as
    ``None`` (no run in ``output_dir`` yet).

    Example catalog entries::

        iterative.previous_run:
          type: prism.pipelines.iterative.run_record.RunRecordDataset
          filepath: output/iterative_training/iterative_run.json
          missing_ok: true

        iterative.run_record:
          type: prism.pipelines.iterative.run_record.RunRecordDataset
          filepath: output/iterative_training/iterative_run.json
          save_args: {indent: 1, ensure_ascii: false}
    """

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str],
        missing_ok: bool = False,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: the JSON file.
            missing_ok: load ``None`` instead of failing when the file does not exist.
            save_args: ``json.dump`` options.
            metadata: free-form catalog metadata.
        """
        super().__init__(filepath=filepath, save_args=save_args, metadata=metadata)
        self._missing_ok = missing_ok

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "missing_ok": self._missing_ok}

    def load(self) -> Any:
        """The parsed file; ``None`` when it is missing and ``missing_ok`` is set."""
        if self._missing_ok and not self._exists():
            return None
        return super().load()
