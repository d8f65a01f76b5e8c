"""The resumable JSON store: records by key, atomic writes, keys kept inside the folder."""

from __future__ import annotations

import threading

import pytest

from prism.formats.errors import DataFormatError
from prism.formats.json_store import JsonStore


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
    with pytest.raises(DataFormatError, match=r"bad\.json: not valid JSON.*delete the file"):
        store.get("bad")


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
