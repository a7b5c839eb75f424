"""
``hvsock stress``'s progress line on a terminal.

tqdm draws it: the bar, the rate, the time left, and the fitting to a
width. This module chooses what the line says for the width the terminal
has at each redraw (asked anew each time, so a resize counts at the next
redraw), and redraws from the reactor's clock.

Why tqdm rather than rich's progress, or our own: measured with Python 3.11
and the stress command's own imports already loaded, importing tqdm adds
13-20 ms (rich.progress 33-36 ms); tqdm installs 0.6 MB and depends on
nothing outside Windows (colorama there), where rich brings Pygments and
markdown-it-py, 13 MB in all, and by default redraws from a thread of its
own. Our earlier drawing code had to do the width and the resize itself,
and did not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm
from twisted.internet.task import LoopingCall

from .stress_results import MEGABYTE
from .terminal import columns_of

__all__ = ["Progress"]

#: What the line says, by the narrowest terminal each layout suits: the
#: layout (bar first, then the count, what moved, the time left) and which
#: numbers follow the count. Chosen by width alone, so that what the line
#: says does not change as the numbers grow, and the bar keeps some room.
_LAYOUTS = [
    (80, "[{bar}] {n_fmt}/{total_fmt} connections{postfix}, {remaining} left", 2),
    (60, "[{bar}] {n_fmt}/{total_fmt}{postfix}, {remaining} left", 2),
    (45, "[{bar}] {n_fmt}/{total_fmt}{postfix}, {remaining} left", 1),
    (0, "[{bar}] {n_fmt}/{total_fmt}{postfix}, {remaining} left", 0),
]


def _layout(columns: int) -> tuple[str, int]:
    """The layout for ``columns``, and how many of MB and MB/s it shows."""
    return next(
        (layout, numbers)
        for narrowest, layout, numbers in _LAYOUTS
        if columns >= narrowest
    )


class _Bar(tqdm):  # type: ignore[type-arg]
    """A tqdm bar for a program whose reactor thread does all the drawing."""

    #: tqdm would start a thread that redraws stalled bars on its own.
    monitor_interval = 0
    #: tqdm's default lock adds a multiprocessing one, a semaphore (and, on
    #: some platforms, a resource-tracker process) that one thread needs not.
    _lock = threading.RLock()

    @staticmethod
    def status_printer(file: Any) -> Callable[[str], None]:
        # tqdm pads a shorter line with spaces to the last one's length;
        # after the terminal narrows, that padding wraps. Erasing to the end
        # of the line does the same without writing past the text.
        def print_status(text: str) -> None:
            file.write(f"\r{text}\x1b[K")
            file.flush()

        return print_status


class Progress:
    """
    A one-line progress bar on a terminal, redrawn at most ten times a
    second while a run goes on: connections done, megabytes moved, the rate
    and the time left. Every redraw fits the terminal's width at that moment
    and leaves its last column free, so it never wraps, even after a resize.

    :param status: returns ``(connections finished, bytes moved so far)``.
    :param columns: returns the terminal's width now (default: asks the
        terminal ``stream`` writes to; 80 if it cannot tell).
    """

    INTERVAL = 0.1

    def __init__(
        self,
        stream: TextIO,
        total: int,
        status: Callable[[], tuple[int, int]],
        columns: Callable[[], int] | None = None,
    ) -> None:
        self.stream = stream
        self.total = total
        self.status = status
        self.columns = columns or (lambda: columns_of(stream) or 80)
        self._loop: LoopingCall | None = None
        self._clock: Any = None
        self._started = 0.0
        self._bar: _Bar | None = None

    def start(self, clock: Any) -> None:
        """Draw the bar, and redraw it every :attr:`INTERVAL` of ``clock``."""
        self._clock = clock
        self._started = clock.seconds()
        self._bar = _Bar(
            file=self.stream,
            total=self.total,
            ascii="-#",
            smoothing=0,  # the rate and time left over the whole run
            position=0,  # the only bar: tqdm would stack bars not yet closed
            **self._look(),
        )
        # The reactor's clock times the run; tqdm's own (an attribute with no
        # public name) has timed only its first draw.
        self._bar._time = clock.seconds  # type: ignore[attr-defined]
        self._bar.start_t = self._bar.last_print_t = self._started
        self._loop = LoopingCall(self.draw)
        self._loop.clock = clock
        self._loop.start(self.INTERVAL)

    def _look(self) -> dict[str, Any]:
        """The bar's width, layout and numbers, for the width it has now."""
        _, moved = self.status()
        columns = self.columns()
        layout, shown = _layout(columns)
        elapsed = self._clock.seconds() - self._started
        numbers = [
            f"{moved / MEGABYTE:.1f} MB",
            f"{moved / MEGABYTE / elapsed if elapsed > 0 else 0.0:.1f} MB/s",
        ]
        return {
            "ncols": max(columns - 1, 1),
            "bar_format": layout,
            # tqdm writes it after a comma, or not at all when empty.
            "postfix": ", ".join(numbers[len(numbers) - shown :]),
        }

    def _update(self) -> _Bar:
        """Bring the bar up to date, in the layout the width allows now."""
        assert self._bar is not None, "start() first"
        self._bar.n = self.status()[0]
        for name, value in self._look().items():
            setattr(self._bar, name, value)
        return self._bar

    def line(self) -> str:
        """What the bar shows now, at most one column short of the width."""
        return str(self._update())

    def draw(self) -> None:
        self._update().refresh()

    def clear(self) -> None:
        """Erase the bar, so another line can take its place."""
        if self._bar is not None:
            self._bar.clear()

    def stop(self) -> None:
        """Draw the final state and end the line."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._bar is not None:
            self._update().close()
