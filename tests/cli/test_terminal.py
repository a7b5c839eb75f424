"""
Lines fitted to a terminal's width, and the width asked of the terminal.
"""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios

import pytest

from twisted_hvsock.cli.terminal import columns_of, fit

SUMMARY = (
    "connections: 1000 (50 at a time), 1000 ok, 0 mismatches, 0 errors\n"
    "throughput:  183.80 MB/s (bytes sent + received; 1 MB = 10^6 bytes)\n"
    "seed:        2495157235"
)


@pytest.mark.parametrize("columns", [30, 40, 60])
def test_each_line_wraps_short_of_the_width(columns: int) -> None:
    lines = fit(SUMMARY, columns).splitlines()
    assert all(len(line) <= columns - 1 for line in lines), lines
    assert " ".join(line.strip() for line in lines).split() == SUMMARY.split()


def test_continuations_line_up_after_the_label() -> None:
    assert fit(SUMMARY, 40).splitlines()[:4] == [
        "connections: 1000 (50 at a time), 1000",
        "             ok, 0 mismatches, 0 errors",
        "throughput:  183.80 MB/s (bytes sent +",
        "             received; 1 MB = 10^6",
    ]


def test_a_long_word_is_broken_rather_than_let_through() -> None:
    line = "first error: cannot listen on unix:/" + "d" * 80 + "/s.sock"
    assert all(len(part) <= 39 for part in fit(line, 40).splitlines())


def test_without_a_terminal_lines_stay_whole() -> None:
    assert fit(SUMMARY, None) == SUMMARY


def test_a_file_or_a_pipe_has_no_width() -> None:
    assert columns_of(io.StringIO()) is None
    read_end, write_end = os.pipe()
    with open(write_end, "w") as pipe:
        assert columns_of(pipe) is None
    os.close(read_end)


def test_a_terminal_s_width_is_read_at_each_call() -> None:
    terminal, child_side = os.openpty()
    try:
        with open(child_side, "w") as stream:
            for columns in (60, 40):
                size = struct.pack("HHHH", 24, columns, 0, 0)
                fcntl.ioctl(terminal, termios.TIOCSWINSZ, size)
                assert columns_of(stream) == columns
    finally:
        os.close(terminal)
