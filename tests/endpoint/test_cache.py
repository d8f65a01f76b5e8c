"""CallCache: keys, persistence, atomicity and corrupt entries."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.endpoint import CallCache, request_key

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_request_key_ignores_key_order(request: dict) -> None:
    reordered = dict(reversed(list(request.items())))

    assert request_key(reordered) == request_key(request)


def test_request_key_differs_when_any_field_differs() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}

    assert request_key(request) != request_key({**request, "temperature": 0.3})


def test_put_then_get_round_trips_and_persists(tmp_path: Path) -> None:
    key = request_key({"q": 1})
    CallCache(tmp_path).put(key, {"text": "ünïcode", "usage": None})

    reopened = CallCache(tmp_path)

    assert reopened.get(key) == {"text": "ünïcode", "usage": None}
    assert key in reopened
    assert len(reopened) == 1


def test_entries_fan_out_by_hash_prefix(tmp_path: Path) -> None:
    key = request_key({"q": 1})

    assert CallCache(tmp_path).path_for(key) == tmp_path / key[:2] / key[2:4] / f"{key}.json"


def test_a_missing_key_is_a_miss(tmp_path: Path) -> None:
    cache = CallCache(tmp_path)

    assert cache.get(request_key({"q": 2})) is None
    assert request_key({"q": 2}) not in cache
    assert "not a key" not in cache


def test_keys_that_are_not_digests_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256"):
        CallCache(tmp_path).put("../../etc/passwd", {})


@pytest.mark.parametrize(
    "content",
    ['{"key": "truncat', "[]", '{"key": "someone-else", "value": {}}', '{"key": "K"}'],
)
def test_a_corrupt_entry_is_a_logged_miss_and_is_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    cache = CallCache(tmp_path)
    key = request_key({"q": 3})
    path = cache.path_for(key)
    path.parent.mkdir(parents=True)
    path.write_text(content.replace('"K"', f'"{key}"'))

    with caplog.at_level(logging.WARNING, logger="prism.endpoint.cache"):
        assert cache.get(key) is None
    assert str(path) in caplog.text

    cache.put(key, {"text": "fresh"})
    assert cache.get(key) == {"text": "fresh"}


def test_concurrent_writers_leave_only_whole_entries(tmp_path: Path) -> None:
    cache = CallCache(tmp_path)
    keys = [request_key({"q": i % 8}) for i in range(200)]  # many threads share each key

    def write(index: int) -> None:
        cache.put(keys[index], {"text": "x" * 10_000, "writer": index % 8})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(write, range(len(keys))))

    assert len(cache) == 8
    assert all(cache.get(key)["text"] == "x" * 10_000 for key in set(keys))
    assert not list(tmp_path.rglob("*.tmp"))  # no temp file left behind
