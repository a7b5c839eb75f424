"""
Text for a terminal: how wide it is now, and lines fitted to that width.
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import TextIO

__all__ = ["columns_of", "fit"]

# Where a continuation starts: after "label:" and the spaces that follow it.
_LABEL = re.compile(r"[^:]*:\s+")


def columns_of(stream: TextIO) -> int | None:
    """
    How many columns the terminal ``stream`` writes to has now, asked anew
    on each call so that a resize counts; ``None`` when ``stream`` is no
    terminal (a file or a pipe).
    """
    try:
        if not stream.isatty():
            return None
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


def fit(text: str, columns: int | None) -> str:
    """
    ``text`` with each line wrapped to stay short of ``columns`` (the last
    column is left free, where some terminals wrap at once), continuations
    indented under what follows the line's ``label:``. With ``None``,
    ``text`` as it is: files and pipes get whole lines.
    """
    if columns is None:
        return text
    width = max(columns - 1, 1)
    lines = []
    for line in text.splitlines():
        label = _LABEL.match(line)
        indent = label.end() if label and label.end() <= width // 2 else 4
        lines.extend(
            textwrap.wrap(
                line,
                width,
                subsequent_indent=" " * min(indent, width - 1),
                break_on_hyphens=False,
            )
            or [""]
        )
    return "\n".join(lines)
