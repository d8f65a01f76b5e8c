"""The task a training sample's prompt states, read back from its first user turn, and the
prior prompt the reference builds from it (its ``spine_data_to_prompt``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prism.formats.conversations import TEXT_KEYS, _label, _turns_key, _turns_of
from prism.formats.errors import DataFormatError

PRIOR_PREFIX = "example task: "

_TASK_LEAD = re.compile(r"\s*task\s*:", re.IGNORECASE)
# The reference's one-line prompts: "task: <task> Scene graph:{...}" and
# "task: <task>. scene graph {...}". The lookahead for "{" keeps a task that merely mentions
# "scene graph" intact; the optional punctuation is the separator, not part of the task.
_GRAPH_MARKER = re.compile(r"[.;,]?\s*scene[ _]?graph\s*:?\s*(?=\{)", re.IGNORECASE)


def first_user_task(sample: Mapping[str, Any], source: str = "<data>") -> str:
    """The task text of the sample's first user turn.

    Understands the prompt forms ``task: <task>\\n<advice>\\nScene graph:{...}`` and the
    reference's one-line ``task: <task> Scene graph:{...}`` / ``task: <task>. scene graph {...}``
    (in the one-line form a ``.`` before "scene graph" is the separator and is dropped).

    Raises:
        DataFormatError: no user turn, or it does not start with ``task:``.

    Example:
        >>> first_user_task({"conversations": [
        ...     {"role": "user", "value": "task: find the truck\\nBe brief.\\nScene graph:{}"}]})
        'find the truck'
        >>> first_user_task({"conversations": [
        ...     {"role": "user", "value": "task: find the truck. scene graph {}"}]})
        'find the truck'
    """
    label = _label(sample)
    turns = _turns_of(sample, source=source)
    key = _turns_key(sample) or "conversations"
    position = next((i for i, turn in enumerate(turns) if turn["role"] == "user"), None)
    if position is None:
        raise DataFormatError(
            "has no user turn, so there is no task to read", source=source, sample=label, field=key
        )
    text = turns[position]["value"]
    text_key = next(k for k in TEXT_KEYS if k in sample[key][position])
    field = f"{key}[{position}].{text_key}"
    lead = _TASK_LEAD.match(text)
    if lead is None:
        raise DataFormatError(
            f"the first user turn does not start with 'task: <task>' (it starts {text[:40]!r})",
            source=source,
            sample=label,
            field=field,
        )
    rest = text[lead.end() :]
    end = len(rest)
    newline = rest.find("\n")
    if newline >= 0:
        end = newline
    marker = _GRAPH_MARKER.search(rest, 0, end)
    if marker is not None:
        end = marker.start()
    task = rest[:end].strip()
    if not task:
        raise DataFormatError(
            "the first user turn has an empty task after 'task:'",
            source=source,
            sample=label,
            field=field,
        )
    return task


def prior_prompt(sample: Mapping[str, Any], source: str = "<data>") -> str:
    """The generator's prompt prior built from an existing sample: ``"example task: <task>"``.

    Example:
        >>> prior_prompt({"conversations": [
        ...     {"role": "user", "value": "task: find the truck Scene graph:{}"}]})
        'example task: find the truck'
    """
    return PRIOR_PREFIX + first_user_task(sample, source=source)
