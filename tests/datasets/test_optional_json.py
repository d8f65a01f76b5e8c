"""AtomicJSONDataset with missing_ok: the run record, an optional input and an output on one file."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DatasetError

from prism.datasets import AtomicJSONDataset
from prism.formats.json_store import JsonStore

RECORD = {"fingerprint": {"seed": 42, "note": "é"}, "hash": "0123456789abcdef", "n_episodes": 2}


def test_a_missing_record_loads_as_none_only_where_that_is_asked(tmp_path: Path):
    path = tmp_path / "out" / "iterative_run.json"
    assert AtomicJSONDataset(filepath=str(path), missing_ok=True).load() is None
    with pytest.raises(DatasetError):
        AtomicJSONDataset(filepath=str(path)).load()


def test_the_record_is_written_as_the_run_store_wrote_it(tmp_path: Path):
    """The same bytes as JsonStore.put, which wrote the record before it was a catalog output."""
    path = tmp_path / "new" / "iterative_run.json"
    output = AtomicJSONDataset(filepath=str(path), save_args={"indent": 1, "ensure_ascii": False})
    output.save(RECORD)
    expected = JsonStore(tmp_path / "old").put("iterative_run", RECORD).read_bytes()
    assert path.read_bytes() == expected
    assert AtomicJSONDataset(filepath=str(path), missing_ok=True).load() == RECORD
