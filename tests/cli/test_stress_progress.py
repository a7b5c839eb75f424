"""
``hvsock stress``'s progress bar: how often it redraws, and that it fits
the terminal as the numbers grow and the terminal narrows.
"""

from __future__ import annotations

import io
import re

import pytest
from twisted.internet.task import Clock

from twisted_hvsock.cli.stress_progress import Progress

from ..support.terminal import drawn_lines

# The progress bar.


def test_progress_redraws_at_most_ten_times_a_second() -> None:
    clock, stream = Clock(), io.StringIO()
    status = [0, 0]
    progress = Progress(stream, 40, lambda: (status[0], status[1]), lambda: 200)
    progress.start(clock)
    for step in range(100):
        status[:] = [step * 40 // 100, step * 3_000_000]
        clock.advance(0.01)
    draws = stream.getvalue().count("\r[")
    assert 10 <= draws <= 12
    progress.stop()
    # 297 MB in a second; 39 of 40 done, so the last takes under a second.
    assert re.search(
        r"\r\[#+-+\] 39/40 connections, 297\.0 MB, 297\.0 MB/s, 00:00 left"
        r"\x1b\[K\n$",
        stream.getvalue(),
    )
    clock.advance(1)
    assert stream.getvalue().count("\r[") == draws + 1


@pytest.mark.parametrize("width", [20, 40, 50, 60, 80, 200])
def test_progress_fits_the_terminal_so_redraws_never_wrap(width: int) -> None:
    clock = Clock()
    status = (1234, 123_456_789_000)
    progress = Progress(io.StringIO(), 100_000, lambda: status, lambda: width)
    progress.start(clock)
    clock.advance(7)
    line = progress.line()
    assert len(line) <= width - 1
    assert "1234/100000" in line or width < 40


@pytest.mark.parametrize("width", [40, 45, 60, 80])
def test_the_bar_stays_as_the_numbers_grow(width: int) -> None:
    # The run: at 60 columns the bar shrank to 5 cells, then came
    # and went as the numbers grew.
    clock = Clock()
    status = [0, 0]
    progress = Progress(
        io.StringIO(), 1000, lambda: (status[0], status[1]), lambda: width
    )
    progress.start(clock)
    for step in range(1, 1001, 37):
        status[:] = [step, step * 2_000_000]
        clock.advance(0.5)
        line = progress.line()
        assert len(line) <= width - 1
        bar = re.match(r"\[([#-]+)\] ", line)
        assert bar, line
        assert len(bar[1]) >= 8, line


def test_progress_follows_a_resize_at_the_next_redraw() -> None:
    clock, stream = Clock(), io.StringIO()
    columns = [60]
    progress = Progress(stream, 100, lambda: (50, 10**8), lambda: columns[0])
    progress.start(clock)
    clock.advance(1)
    wide = drawn_lines(stream.getvalue())
    assert wide and all(len(line) <= 59 for line in wide)
    assert any(len(line) > 40 for line in wide)
    columns[0] = 40
    stream.seek(0)
    stream.truncate()
    clock.advance(0.1)
    progress.stop()
    narrow = drawn_lines(stream.getvalue())
    assert narrow and all(len(line) <= 39 for line in narrow), narrow
    assert all(line.startswith("[") for line in narrow)


def test_progress_shows_the_rate_and_the_time_left() -> None:
    clock = Clock()
    status = [10, 50 * 1_000_000]
    progress = Progress(io.StringIO(), 40, lambda: (status[0], status[1]))
    progress.start(clock)
    clock.advance(5)
    assert progress.line().endswith("10/40 connections, 50.0 MB, 10.0 MB/s, 00:15 left")


def test_a_narrow_terminal_keeps_the_count_and_the_time_left() -> None:
    clock = Clock()
    progress = Progress(io.StringIO(), 40, lambda: (10, 50 * 10**6), lambda: 40)
    progress.start(clock)
    clock.advance(5)
    assert progress.line().endswith("] 10/40, 00:15 left")
