"""The Kedro JSON datasets: the store handed to a node, atomic JSON saves."""

from __future__ import annotations

import json
import os

import pytest

from prism.datasets.json_store import AtomicJSONDataset, JsonStoreDataset, write_json_atomic


def test_atomic_write_leaves_the_old_file_when_serialising_fails(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left behind


def test_kedro_datasets_round_trip(tmp_path):
    dataset = JsonStoreDataset(filepath=str(tmp_path / "store"))
    assert not dataset.exists()
    store = dataset.load()
    store.put("a", 1)
    dataset.save(store)
    assert dataset.exists() and dataset.load().get("a") == 1

    json_file = AtomicJSONDataset(filepath=str(tmp_path / "x" / "samples.json"))
    json_file.save([{"id": "1"}])
    assert json_file.load() == [{"id": "1"}]


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    write_json_atomic(tmp_path / "a.json", {})
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask
