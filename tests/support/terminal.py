"""What a terminal shows of a command's redrawn status lines."""

from __future__ import annotations

import re


def drawn_lines(text: str) -> list[str]:
    """Each line a redraw or a print left on the terminal, escapes removed."""
    return [
        segment.replace("\x1b[K", "")
        for segment in re.split(r"[\r\n]+", text)
        if segment.replace("\x1b[K", "")
    ]
