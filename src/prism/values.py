"""Type checks for values read from configuration, requests and metric tables.

``bool`` is an ``int`` subclass in Python: YAML's ``true`` or JSON's ``true`` must not pass as 1.
"""

from __future__ import annotations

import math
from typing import Any


def is_int(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """An ``int`` or ``float``, not a ``bool``, neither infinite nor NaN."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
