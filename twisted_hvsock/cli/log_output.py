"""
Where ``hvsock`` sends ``twisted.logger`` events: one line each on stderr,
prefixed with the command, at the level ``-q``/``-v`` choose. Standard
output is left alone: ``hvsock cat`` carries data there.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import provider

__all__ = ["LEVELS", "start_logging"]

#: -q, neither, -v.
LEVELS = {"quiet": LogLevel.error, "default": LogLevel.warn, "verbose": LogLevel.info}


def line_observer(command: str, out: TextIO) -> ILogObserver:
    """An observer printing each event as ``COMMAND: message`` on ``out``."""

    @provider(ILogObserver)
    def observe(event: dict[str, Any]) -> None:
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text = f"{text}: {failure.getErrorMessage()}" if text else str(failure)
        if text:
            print(f"{command}: {text}", file=out, flush=True)

    observer: ILogObserver = observe
    return observer


def start_logging(command: str, level: LogLevel, out: TextIO = sys.stderr) -> None:
    """Send this process's log events at ``level`` and above to ``out``."""
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    observer = FilteringLogObserver(line_observer(command, out), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
