"""The retry policy: backoff within its bounds, exponential with jitter, and the server's
``Retry-After`` (seconds, milliseconds or an HTTP date) parsed. (Retries as the client makes
them, against a live fake server: ``test_client.py``.)"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.endpoint.retry import backoff_delay, retry_after_seconds


@given(
    retry=st.integers(min_value=1, max_value=10_000),
    backoff_s=st.floats(min_value=0, max_value=100),
    max_backoff_s=st.floats(min_value=0, max_value=100),
    retry_after_s=st.none() | st.floats(min_value=0, max_value=10_000),
)
def test_backoff_delay_stays_within_its_bounds(
    retry: int, backoff_s: float, max_backoff_s: float, retry_after_s: float | None
) -> None:
    delay = backoff_delay(
        retry,
        backoff_s=backoff_s,
        max_backoff_s=max_backoff_s,
        retry_after_s=retry_after_s,
        rng=random.Random(retry),
    )

    assert 0 <= delay <= max_backoff_s
    if retry_after_s is not None:
        assert delay >= min(retry_after_s, max_backoff_s)


def test_backoff_delay_grows_exponentially_with_jitter() -> None:
    delays = [
        backoff_delay(retry, backoff_s=1.0, max_backoff_s=1000.0, rng=random.Random(0))
        for retry in (1, 2, 3, 4)
    ]

    for retry, delay in enumerate(delays, start=1):
        assert 2 ** (retry - 2) <= delay <= 2 ** (retry - 1)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
    ],
)
def test_retry_after_header_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected
