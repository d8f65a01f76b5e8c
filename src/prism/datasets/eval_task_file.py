"""A Kedro dataset for eval task files, validated on load with errors that name the file."""

from __future__ import annotations

from typing import Any

from prism.datasets.local_path import LocalPathDataset
from prism.formats.eval_tasks import EvalSuite, load_eval_suite, read_eval_suite, write_eval_suite


class EvalTaskFileDataset(LocalPathDataset[EvalSuite, Any]):
    """An eval task file (``{"graph", "tasks"}`` or a list of those) as an
    :class:`~prism.formats.eval_tasks.EvalSuite`.

    ``load`` validates everything (graphs, ``init_node``, answer regexes) and raises
    :class:`~prism.formats.errors.DataFormatError` naming the file, graph and task at fault.
    ``save`` takes a suite or records in the file format, checks them the same way and writes
    atomically.

    Example catalog entry::

        eval_tasks:
          type: prism.datasets.EvalTaskFileDataset
          filepath: data/01_raw/eval_tasks_1.json
    """

    def load(self) -> EvalSuite:
        return read_eval_suite(self._filepath)

    def save(self, data: EvalSuite | Any) -> None:
        suite = data if isinstance(data, EvalSuite) else load_eval_suite(data, str(self._filepath))
        write_eval_suite(suite, self._filepath)
