"""When a failed chat-completions request is worth another attempt, and how long to wait first.

Rate limits, timeouts and server errors are retried with exponential backoff and jitter,
honouring the server's ``Retry-After``, up to ``max_backoff_s``; a status in
:data:`RETRYABLE_STATUS` is worth a retry, any other fails the same way every time.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from datetime import datetime, timezone

#: Statuses worth another attempt: rate limits, request timeouts, conflicts and server errors.
#: Everything else (400, 401, 403, 404, 422...) fails the same way every time, and so do 501
#: and 505, which mean "this server does not do that" (typically a base_url that is not an
#: OpenAI-compatible API).
RETRYABLE_STATUS = frozenset({408, 409, 429}) | (frozenset(range(500, 600)) - {501, 505})


def backoff_delay(
    retry: int,
    *,
    backoff_s: float,
    max_backoff_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``retry`` (1-based).

    Exponential (``backoff_s * 2**(retry-1)``) with "equal jitter" (uniform in the upper
    half), so threads that failed together do not come back together; at least the server's
    ``Retry-After``; never more than ``max_backoff_s``.

    Example:
        >>> backoff_delay(3, backoff_s=1.0, max_backoff_s=30.0, rng=random.Random(0)) <= 4.0
        True
    """
    rng = rng or random.Random()
    exponential = backoff_s * 2.0 ** min(retry - 1, 60)  # capped exponent: no float overflow
    jittered = exponential / 2 + rng.uniform(0.0, exponential / 2)
    return min(max(jittered, retry_after_s or 0.0), max_backoff_s)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Parse how long a server asks us to wait: ``retry-after-ms``, then ``retry-after``.

    ``retry-after`` may be seconds or an HTTP date (RFC 9110). Returns None when absent or
    unparsable, and never a negative number.

    Example:
        >>> retry_after_seconds({"retry-after": "2"})
        2.0
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000.0, 0.0)
        except ValueError:
            pass  # fall through to retry-after
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)
