"""
``hvsock stress``'s progress line on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from twisted.internet.task import LoopingCall

from .stress_results import MEGABYTE

__all__ = ["Progress"]


class Progress:
    """
    A one-line progress bar on a terminal, redrawn at most ten times a
    second while a run goes on: connections done, megabytes moved, the rate
    and the time left, fitted to the terminal's width (the bar shrinks, then
    goes, so that a redraw never wraps).

    :param status: returns ``(connections finished, bytes moved so far)``.
    :param width: the terminal's width in columns.
    """

    INTERVAL = 0.1
    #: The longest bar; it takes what the text leaves, up to this.
    WIDTH = 30
    #: A bar narrower than this says nothing and is left out.
    NARROWEST = 5

    def __init__(
        self,
        stream: TextIO,
        total: int,
        status: Callable[[], tuple[int, int]],
        width: int = 80,
    ) -> None:
        self.stream = stream
        self.total = total
        self.status = status
        self.width = width
        self._loop: LoopingCall | None = None
        self._clock: Any = None
        self._started = 0.0

    def start(self, clock: Any) -> None:
        self._clock = clock
        self._started = clock.seconds()
        self._loop = LoopingCall(self.draw)
        self._loop.clock = clock
        self._loop.start(self.INTERVAL)

    def line(self) -> str:
        """What the bar shows now, at most ``width - 1`` columns."""
        done, moved = self.status()
        elapsed = self._clock.seconds() - self._started if self._clock else 0.0
        text = f"{done}/{self.total} connections, {moved / MEGABYTE:.1f} MB"
        if elapsed > 0:
            text += f", {moved / MEGABYTE / elapsed:.1f} MB/s"
            if 0 < done < self.total:
                left = round(elapsed * (self.total - done) / done)
                text += f", {left // 60}:{left % 60:02d} left"
        room = self.width - 1 - len(text) - 3
        bar_width = min(self.WIDTH, room)
        if bar_width < self.NARROWEST:
            return text[: self.width - 1]
        filled = bar_width * done // self.total
        return f"[{'#' * filled}{'-' * (bar_width - filled)}] {text}"

    def draw(self) -> None:
        self.stream.write(f"\r\x1b[K{self.line()}")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar, so another line can take its place."""
        self.stream.write("\r\x1b[K")
        self.stream.flush()

    def stop(self) -> None:
        """Draw the final state and end the line."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.draw()
        self.stream.write("\n")
        self.stream.flush()
