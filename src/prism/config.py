"""Reading configuration: parameter mappings, lists of fractions, and fingerprints.

Every typed configuration of prism (generation, the iterative loop, evaluation, training) reads its
Kedro parameters through these, so that an unknown key, a malformed list or a changed setting is
reported the same way everywhere.

Example:
    >>> fractions("0.2, 0.5", "graph_unknown")
    (0.2, 0.5)
    >>> fingerprint({"b": 1, "a": [1, 2]})
    '3813f9409eb0095b'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prism.values import is_finite_number


class ParameterError(ValueError):
    """A parameter is wrong; the message names it and says what would fix it. Every area's own
    parameter error (``generation.ConfigError``, ``IterativeConfigError``, ...) is one."""


def parameter_mapping(
    params: Any,
    where: str,
    known: Iterable[str],
    error: type[ParameterError] = ParameterError,
) -> dict[str, Any]:
    """``params`` as a dict, checked to be a mapping whose keys are all ``known``.

    Args:
        params: the parameters as Kedro hands them over (``params:generation``).
        where: what they are, for messages: ``"generation"``.
        known: the accepted keys, in the order messages list them.
        error: the error type to raise.

    Raises:
        error: not a mapping, or unknown keys (named, with the known ones).
    """
    if not isinstance(params, Mapping):
        raise error(f"the {where} parameters must be a mapping, got {type(params).__name__}")
    names = list(known)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise error(
            f"unknown {where} parameter(s): {', '.join(map(str, unknown))}; "
            f"known: {', '.join(names)}"
        )
    return dict(params)


def fractions(
    value: Any, name: str, error: type[ParameterError] = ParameterError
) -> tuple[float, ...]:
    """A list of fractions from configuration, as a tuple.

    The seed's command line passes ``"0.2,0.3,0.4,0.5"``; YAML gives a list or a single number;
    ``kedro run --params`` splits on commas, so there ``"0.2 0.5"`` or ``"0.2;0.5"`` works too.
    The values are not range-checked here: the configuration that owns them does it.

    Raises:
        error: the text is not numbers, or the value is neither a number, a text nor a list.
    """
    if isinstance(value, str):
        try:
            parsed = tuple(float(v) for v in re.split(r"[,;\s]+", value.strip()) if v)
        except ValueError:
            raise error(f"{name}: could not read {value!r} as comma-separated fractions") from None
        if parsed:
            return parsed
    elif is_finite_number(value):
        return (value,)
    elif isinstance(value, Sequence) and value:
        return tuple(value)
    raise error(
        f"{name} must list fractions in [0, 1] (0.3 hides 30 % of the nodes), got {value!r}"
    )


def fingerprint(data: Any, length: int = 16) -> str:
    """A short, stable hash of JSON-able data: sha256 of its canonical JSON (sorted keys;
    anything not JSON-able as its ``str``), the first ``length`` hex digits."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
