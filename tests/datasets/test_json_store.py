"""The resumable JSON store and the atomic JSON dataset."""

from __future__ import annotations

import json
import os
import threading

import pytest
from kedro.io import DatasetError

from prism.datasets.json_store import (
    AtomicJSONDataset,
    JsonStore,
    JsonStoreDataset,
    write_json_atomic,
)


def test_put_get_keys_and_subfolders(tmp_path):
    store = JsonStore(tmp_path / "gen")
    store.put("rollouts/scene_000_task_00", {"status": "passed"})
    store.put("scenes/scene_000", {"n": 1})
    store.put("v1.2", [1, 2])
    assert store.get("rollouts/scene_000_task_00") == {"status": "passed"}
    assert "scenes/scene_000" in store and "scenes/scene_001" not in store
    assert store.get("missing", default="no") == "no"
    assert list(store.keys()) == ["rollouts/scene_000_task_00", "scenes/scene_000", "v1.2"]
    assert list(store.keys("scenes")) == ["scenes/scene_000"]


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", ""])
def test_keys_cannot_escape_the_folder(tmp_path, key):
    with pytest.raises(ValueError, match="invalid store key"):
        JsonStore(tmp_path).put(key, {})


def test_a_corrupt_record_names_its_file(tmp_path):
    store = JsonStore(tmp_path)
    store.path("bad").write_text('{"half": ')
    with pytest.raises(DatasetError, match=r"bad\.json: not valid JSON.*delete the file"):
        store.get("bad")


def test_atomic_write_leaves_the_old_file_when_serialising_fails(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left behind


def test_concurrent_puts_of_one_key_never_produce_a_torn_file(tmp_path):
    store = JsonStore(tmp_path)
    big = {"x": "y" * 200_000}

    def writer(i: int) -> None:
        for _ in range(20):
            store.put("k", {**big, "i": i})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k")["x"] == big["x"]


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
