"""The one error type of the data I/O layer.

Every reader in :mod:`prism.formats` raises :class:`DataFormatError` where it finds bad data, with
the file (or a label for in-memory data), the sample and the field at fault, so that a user can go
straight to the broken record::

    data/x.json: sample 3, field conversations[2].role: unknown role 'bot' (expected one of: ...)
"""

from __future__ import annotations

from typing import Any


class DataFormatError(ValueError):
    """Data that does not have the shape a reader expects.

    A ``ValueError`` so that callers that already guard against bad values keep working.

    Attributes:
        reason: what is wrong, and where possible what would fix it.
        source: the file path, or a label such as ``"<data>"`` for in-memory records.
        sample: the sample's index in its list (an ``int``) or its id (a ``str``), if known.
        field: a path to the offending field inside the sample, e.g. ``conversations[2].role``.

    Example:
        >>> str(DataFormatError("unknown role 'bot'", source="data/x.json", sample=3,
        ...                     field="conversations[2].role"))
        "data/x.json: sample 3, field conversations[2].role: unknown role 'bot'"
        >>> str(DataFormatError("expected a JSON list", source="data/x.json"))
        'data/x.json: expected a JSON list'
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str = "<data>",
        sample: int | str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = str(source)
        self.sample = sample
        self.field = field

    def __str__(self) -> str:
        where = [f"sample {self.sample}"] if self.sample is not None else []
        if self.field:
            where.append(f"field {self.field}")
        prefix = f"{self.source}: " + (", ".join(where) + ": " if where else "")
        return prefix + self.reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are lost by the default exception pickling; Kedro's parallel
        # runner and multiprocessing send errors between processes, so rebuild them explicitly.
        return (_rebuild, (self.reason, self.source, self.sample, self.field))


def _rebuild(
    reason: str, source: str, sample: int | str | None, field: str | None
) -> DataFormatError:
    return DataFormatError(reason, source=source, sample=sample, field=field)
