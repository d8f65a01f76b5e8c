"""One stage, one progress bar: a tqdm bar on a terminal, sparse log lines elsewhere."""

from __future__ import annotations

import io
import logging
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from prism import progress
from prism.progress import (
    PROGRESS_ENV,
    LoggedBar,
    ProgressError,
    TerminalBar,
    format_duration,
    progress_bar,
    progress_mode,
)


class _Clock:
    """A monotonic clock the test moves; tqdm and the bar read it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr("tqdm.std.time", clock)
    return clock


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "prism.progress"]


def test_off_a_terminal_a_stage_writes_a_line_every_30_s_and_one_at_its_end(
    monkeypatch, caplog, clock
):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert progress_mode() == "lines"
    with (
        caplog.at_level(logging.INFO, logger="prism.progress"),
        progress_bar(100, "student on eval tasks", "task") as bar,
    ):
        assert isinstance(bar, LoggedBar)
        for _ in range(100):
            clock.now += 1.0  # one task a second: 100 s in all
            bar.update()
            bar.set_postfix(loss="0.5")  # shown with the next line, not as one
    lines = _lines(caplog)
    assert len(lines) == 4, lines  # at 30, 60 and 90 s, and the end
    assert lines[0].startswith("student on eval tasks: 30/100 (30 %) [00:30<01:10")  # time left
    assert lines[-1].startswith("student on eval tasks: 100/100 (100 %) [01:40<00:00")
    assert "task/s" in lines[-1] and "loss=0.5" in lines[-1]
    assert all("\r" not in line and "|" not in line for line in lines)


def test_a_short_stage_writes_one_line_and_a_transient_one_none(monkeypatch, caplog, clock):
    monkeypatch.setenv(PROGRESS_ENV, "lines")
    with caplog.at_level(logging.INFO, logger="prism.progress"):
        with progress_bar(3, "rollouts", "rollout") as bar:
            bar.update(3)
        with progress_bar(29, "Loading weights", leave=False) as bar:
            bar.update(29)
        with progress_bar(4, "not started", "task"):
            pass
    assert [line.split(":")[0] for line in _lines(caplog)] == ["rollouts", "not started"]
    assert "0/4" in _lines(caplog)[-1]


def test_threads_updating_one_stage_at_once_make_one_line(monkeypatch, caplog, clock):
    monkeypatch.setenv(PROGRESS_ENV, "lines")
    with caplog.at_level(logging.INFO, logger="prism.progress"):
        bar = progress_bar(64, "student on eval tasks", "task")
        clock.now += 31
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: bar.update(), range(32)))
        bar.close()
    # 32 updates at once after 31 s: one line for all of them, then the end
    first, last = _lines(caplog)
    assert last.startswith("student on eval tasks: 32/64 (50 %)") and first != last


def test_on_a_terminal_a_stage_is_a_bar_with_the_log_above_it(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "bars")
    screen = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.addHandler(handler)
    try:
        with progress_bar(4, "student on eval tasks", "task", file=screen, mininterval=0) as bar:
            assert isinstance(bar, TerminalBar)
            # while the bar is open the console handler writes through tqdm.write
            assert handler not in root.handlers
            bar.update(4)
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)
    shown = screen.getvalue()
    assert "student on eval tasks: 100%" in shown and "4/4" in shown


def test_nested_bars_restore_the_log_once_the_last_closes(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "bars")
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    root.addHandler(handler)
    try:
        outer = progress_bar(2, "training", "step", file=io.StringIO())
        inner = progress_bar(1, "validation", "batch", leave=False, file=io.StringIO())
        outer.close()  # closed out of order: a thread's bar
        assert handler not in root.handlers
        inner.close()
        assert handler in root.handlers
    finally:
        root.removeHandler(handler)


def test_progress_can_be_switched_off_and_a_wrong_value_is_named(monkeypatch, caplog):
    monkeypatch.setenv(PROGRESS_ENV, "none")
    with caplog.at_level(logging.INFO, logger="prism.progress"), progress_bar(2, "rollouts") as bar:
        bar.update(2)
    assert bar.disable and not _lines(caplog)
    monkeypatch.setenv(PROGRESS_ENV, "fancy")
    with pytest.raises(ProgressError, match=r"PRISM_PROGRESS='fancy': use bars, lines or none"):
        progress_mode()


def test_transformers_bars_become_transient_stages(monkeypatch, caplog, clock):
    from transformers.utils import logging as transformers_logging

    monkeypatch.setenv(PROGRESS_ENV, "lines")
    previous = progress.route_library_bars()
    try:
        with caplog.at_level(logging.INFO, logger="prism.progress"):
            bar = transformers_logging.tqdm(range(3), desc="Loading weights")
            assert isinstance(bar, LoggedBar) and not bar.leave and bar.total == 3
            assert list(bar) == [0, 1, 2]
        assert not _lines(caplog)  # done within 30 s: nothing in the log
    finally:
        transformers_logging.set_tqdm_hook(previous)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (45, "45 s"), (192, "3 min 12 s"), (3600 + 5 * 60 + 29, "1 h 05 min")],
)
def test_durations_read_as_a_person_says_them(seconds, text):
    assert format_duration(seconds) == text
