"""An on-disk cache of endpoint calls, so that a rerun never pays twice for the same request.

Each entry is one small JSON file named by the sha256 of the request, under a two-level
fan-out (``ab/cd/abcd....json``) so no directory grows to hundreds of thousands of files.
Writes go to a temporary file in the same directory and are moved in place with
``os.replace``, which is atomic on POSIX and Windows: a reader, another thread, or a rerun
after a crash sees either the whole entry or none of it. A file that is nevertheless
unreadable (disk full, hand-edited) counts as a miss and is logged, and the next ``put``
overwrites it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prism.formats.json_io import write_json_atomic

logger = logging.getLogger(__name__)

_KEY_PATTERN = re.compile(r"[0-9a-f]{64}")


def request_key(request: Mapping[str, Any]) -> str:
    """Return the cache key of a request: sha256 of its canonical JSON.

    Canonical means sorted keys, no whitespace and UTF-8, so two equal requests built in a
    different order get the same key.

    Example:
        >>> request_key({"model": "m", "messages": []}) == request_key(
        ...     {"messages": [], "model": "m"})
        True
    """
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CallCache:
    """A directory of JSON entries keyed by :func:`request_key`.

    Safe to share between threads (and processes): each entry is written atomically and
    entries are never updated in place. Values are JSON objects (``dict``).

    Args:
        directory: Where the entries live; created if missing.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"CallCache({str(self.directory)!r})"

    def path_for(self, key: str) -> Path:
        """Return the file that holds ``key``'s entry (which may not exist)."""
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            # Keys become file names: anything but a sha256 hex digest could escape the folder.
            raise ValueError(f"cache key must be a 64-character sha256 hex digest, got {key!r}")
        return self.directory / key[:2] / key[2:4] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the value stored under ``key``, or ``None`` on a miss or a corrupt entry."""
        path = self.path_for(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cache entry %s is unreadable (%s); treating it as a miss", path, exc)
            return None
        try:
            entry = json.loads(text)
        except json.JSONDecodeError as exc:
            logger.warning(
                "cache entry %s is not valid JSON (%s); treating it as a miss, the next "
                "successful call overwrites it",
                path,
                exc,
            )
            return None
        # The key is stored inside the entry too, so a file copied or renamed by hand cannot
        # answer for a request it was not made for.
        if not (
            isinstance(entry, dict)
            and entry.get("key") == key
            and isinstance(entry.get("value"), dict)
        ):
            logger.warning(
                "cache entry %s does not hold a value for its own key; treating it as a miss", path
            )
            return None
        return entry["value"]

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` (a JSON-serialisable mapping) under ``key``, atomically."""
        write_json_atomic(
            self.path_for(key), {"key": key, "value": dict(value)}, ensure_ascii=False, indent=1
        )

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            return False
        return self.get(key) is not None

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("??/??/*.json"))
