"""The run record's dataset: an optional input and an output on one file, iterative_run.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DatasetError

from prism.formats.json_store import JsonStore
from prism.pipelines.iterative.run_record import RunRecordDataset

RECORD = {"fingerprint": {"seed": 42, "note": "é"}, "hash": "0123456789abcdef", "n_episodes": 2}


def test_a_missing_record_loads_as_none_only_where_that_is_asked(tmp_path: Path):
    path = tmp_path / "out" / "iterative_run.json"
    assert RunRecordDataset(filepath=str(path), missing_ok=True).load() is None
    with pytest.raises(DatasetError):
        RunRecordDataset(filepath=str(path)).load()


def test_the_record_is_written_as_the_run_store_wrote_it(tmp_path: Path):
    """The same bytes as JsonStore.put, which wrote the record before it was a catalog output."""
    path = tmp_path / "new" / "iterative_run.json"
    output = RunRecordDataset(filepath=str(path), save_args={"indent": 1, "ensure_ascii": False})
    output.save(RECORD)
    expected = JsonStore(tmp_path / "old").put("iterative_run", RECORD).read_bytes()
    assert path.read_bytes() == expected
    assert RunRecordDataset(filepath=str(path), missing_ok=True).load() == RECORD
