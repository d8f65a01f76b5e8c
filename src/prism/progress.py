"""Progress of a long stage, readable on a terminal and in a log file alike.

A stage — training steps, closed-loop tasks, generated rollouts — shows one progress bar with
its rate and time left. Where it is shown depends on where it would be written (stderr):

* a terminal or a notebook: a tqdm bar; log lines written while it runs are printed above it
  (tqdm's logging redirect) instead of through it;
* anything else (CI, ``| tee``, a file): a bar would be one endless line of carriage returns, so
  the stage writes a line to the log at most every :data:`LOG_EVERY` seconds and one when it
  ends, e.g. ``student on eval tasks: 64/126 (51 %) [00:31<00:30, 2.03task/s]``.

``PRISM_PROGRESS=bars``, ``lines`` or ``none`` overrides the choice (``none``: no progress).
"""

from __future__ import annotations

import io
import logging
import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm as auto_tqdm
from tqdm.contrib.logging import logging_redirect_tqdm
from tqdm.std import tqdm as std_tqdm

logger = logging.getLogger(__name__)

#: The environment variable that overrides how progress is shown.
PROGRESS_ENV = "PRISM_PROGRESS"
#: Its values: a tqdm bar, sparse log lines, nothing.
BARS, LINES, NONE = "bars", "lines", "none"
#: Seconds between two log lines of one stage when progress is shown as lines.
LOG_EVERY = 30.0
#: The log line of a stage (tqdm's meter without the bar, which means nothing in a file).
LINE_FORMAT = (
    "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f} %) [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)


class ProgressError(ValueError):
    """``PRISM_PROGRESS`` has a value it does not know."""


def progress_mode() -> str:
    """How progress is shown in this process: :data:`BARS` on a terminal or in a Jupyter
    kernel, :data:`LINES` elsewhere, unless ``PRISM_PROGRESS`` says otherwise.

    Raises:
        ProgressError: ``PRISM_PROGRESS`` is set to something else than bars, lines or none.
    """
    mode = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if mode:
        if mode not in (BARS, LINES, NONE):
            raise ProgressError(
                f"{PROGRESS_ENV}={os.environ[PROGRESS_ENV]!r}: use {BARS}, {LINES} or {NONE} "
                "(or leave it unset: bars on a terminal, log lines elsewhere)"
            )
        return mode
    interactive = sys.stderr is not None and sys.stderr.isatty()
    return BARS if interactive or _in_jupyter_kernel() else LINES


def _in_jupyter_kernel() -> bool:
    """This process is a Jupyter kernel's: IPython runs with a kernel's shell. (``ipykernel``
    imported is not enough: a test run that executes a notebook imports it too.)"""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar(
    total: int | None,
    desc: str,
    unit: str = "it",
    *,
    leave: bool = True,
    disable: bool = False,
    **kwargs: Any,
) -> std_tqdm:
    """One stage's progress: a tqdm object (``update``, ``set_postfix``, ``close``, a context
    manager) that shows as :func:`progress_mode` says.

    Args:
        total: the units the stage will do.
        desc: what the stage is, e.g. ``"student on eval tasks"``.
        unit: what one unit is, e.g. ``"task"``.
        leave: keep the finished bar (or log its last line); ``False`` for a stage within a
            stage (a validation pass within training) and a library's bars.
        disable: show nothing.
        kwargs: more tqdm arguments.
    """
    mode = progress_mode()
    options = {"total": total, "desc": desc, "unit": unit, "leave": leave, **kwargs}
    if disable or mode == NONE:
        return std_tqdm(disable=True, **options)
    if mode == LINES:
        return LoggedBar(**options)
    return TerminalBar(dynamic_ncols=True, **options)


class LoggedBar(std_tqdm):
    """A tqdm that writes its progress to the log: a line at most every :data:`LOG_EVERY`
    seconds while the stage advances and, if ``leave``, one when it ends (with its overall
    rate). A stage that has not advanced yet writes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(
            mininterval=kwargs.get("mininterval", LOG_EVERY),
            miniters=1,  # no dynamic miniters: the interval alone spaces the lines
            file=io.StringIO(),  # tqdm writes its carriage returns here; lines go to the log
            bar_format=kwargs.get("bar_format") or LINE_FORMAT,
        )
        self._logged_n: float | None = None
        self._logged_at = -math.inf
        self._line_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        # shown with the next line, not as a line of its own
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        super().set_description(desc, refresh=False)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        # tqdm sets `disable` before the final display of `close`
        closing = self.disable
        with self._line_lock:  # threads update one stage (tasks run in a pool)
            now = self._time()
            if msg == "" or self.n == self._logged_n:
                return True  # a bar being cleared, or nothing done since the last line
            if not closing and (self.n == self.initial or now - self._logged_at < self.mininterval):
                return True  # nothing done yet, or several threads' updates at once
            format_dict = self.format_dict
            if self.total is None:  # no percentage, no time left: tqdm's own meter
                format_dict["bar_format"] = None
            logger.info("%s", self.format_meter(**format_dict))
            self._logged_n, self._logged_at = self.n, now
        return True


class TerminalBar(auto_tqdm):
    """tqdm's bar (a widget in a notebook with ipywidgets), with the log redirected above it
    while any such bar is open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.disable:
            _redirect.acquire()
            self._redirected = True

    def close(self) -> None:
        super().close()
        if getattr(self, "_redirected", False):
            self._redirected = False
            _redirect.release()


class _LogRedirect:
    """:func:`tqdm.contrib.logging.logging_redirect_tqdm` held while at least one bar is open:
    bars nest (a validation pass within training) and close in any order (threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._context: Any = None

    def acquire(self) -> None:
        with self._lock:
            self._open += 1
            if self._open == 1:
                self._context = logging_redirect_tqdm(tqdm_class=auto_tqdm)
                self._context.__enter__()

    def release(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0 and self._context is not None:
                context, self._context = self._context, None
                context.__exit__(None, None, None)


_redirect = _LogRedirect()


def route_library_bars() -> Callable[..., Any] | None:
    """Show the bars transformers opens itself (``Loading weights`` on every model load) as
    transient stages of :func:`progress_bar`: gone from a terminal once done, and in a log
    only if they last more than :data:`LOG_EVERY` seconds.

    Returns:
        The hook transformers had before (``transformers.utils.logging.set_tqdm_hook``).
    """
    from transformers.utils import logging as transformers_logging

    def hook(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if factory is not transformers_logging.tqdm_lib.tqdm:
            return factory(*args, **kwargs)  # transformers' bars are switched off
        iterable = args[0] if args else kwargs.pop("iterable", None)
        total = kwargs.pop("total", None)
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        options = {k: v for k, v in kwargs.items() if k not in ("leave", "desc", "unit")}
        return progress_bar(
            total,
            kwargs.get("desc") or "",
            kwargs.get("unit", "it"),
            leave=False,
            iterable=iterable,
            **options,
        )

    return transformers_logging.set_tqdm_hook(hook)


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 12 s``, ``2 h 05 min``: a duration as a person reads it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
