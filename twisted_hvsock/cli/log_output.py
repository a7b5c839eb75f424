"""
Where ``hvsock`` sends ``twisted.logger`` events: one line each on stderr,
prefixed with the command, at the level ``-q``/``-v`` choose. Standard
output is left alone: ``hvsock cat`` carries data there.

The lines are for people: addresses in an event read as a user types them,
failures as :func:`~.messages.one_line` words them, and Twisted's own
bookkeeping of factories and ports (object reprs, and "starting on" lines
that repeat the tool's own "listening on") is left out.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

from twisted.internet.interfaces import IAddress
from twisted.logger import (
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    PredicateResult,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import provider

from .addresses import describe_address
from .messages import one_line

__all__ = ["LEVELS", "start_logging"]

#: -q, neither, -v.
LEVELS = {"quiet": LogLevel.error, "default": LogLevel.warn, "verbose": LogLevel.info}

#: Twisted's informational messages that tell a user nothing: factories
#: starting and stopping (by repr), and the reactor's last words.
_BOOKKEEPING_FORMATS = frozenset(
    {
        "Starting factory {factory!r}",
        "Stopping factory {factory!r}",
        "Main loop terminated.",
        # Ours, for the thread-backed and vsock ports, in Twisted's words.
        "{prefix} starting on {address}",
        "(VSOCK Port {port} Closed)",
    }
)
#: The same from Twisted's ports, which log preformatted text.
_BOOKKEEPING_TEXT = re.compile(r"\S+ starting on .*|\((?:\w+ )?Port .* Closed\)")


@provider(ILogFilterPredicate)
def _bookkeeping(event: dict[str, Any]) -> Any:
    """Leave out Twisted's informational lines that tell a user nothing."""
    if event.get("log_level") not in (LogLevel.debug, LogLevel.info):
        return PredicateResult.maybe
    text = event.get("log_text")
    if event.get("log_format") in _BOOKKEEPING_FORMATS or (
        isinstance(text, str) and _BOOKKEEPING_TEXT.fullmatch(text)
    ):
        return PredicateResult.no
    return PredicateResult.maybe


def _for_people(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with each address in it written as a user types it."""
    return {
        key: describe_address(value) if IAddress.providedBy(value) else value
        for key, value in event.items()
    }


def line_observer(command: str, out: TextIO) -> ILogObserver:
    """An observer printing each event as ``COMMAND: message`` on ``out``."""

    @provider(ILogObserver)
    def observe(event: dict[str, Any]) -> None:
        text = formatEvent(_for_people(event))
        failure = event.get("log_failure")
        if failure is not None:
            text = f"{text}: {one_line(failure)}" if text else one_line(failure)
        if text:
            print(f"{command}: {text}", file=out, flush=True)

    observer: ILogObserver = observe
    return observer


def filtered_observer(command: str, level: LogLevel, out: TextIO) -> ILogObserver:
    """
    The observer ``hvsock`` logs to: :func:`line_observer`, at ``level`` and
    above, without Twisted's bookkeeping.
    """
    predicates: list[ILogFilterPredicate] = [
        _bookkeeping,
        LogLevelFilterPredicate(defaultLogLevel=level),
    ]
    return FilteringLogObserver(line_observer(command, out), predicates)


def start_logging(command: str, level: LogLevel, out: TextIO = sys.stderr) -> None:
    """Send this process's log events at ``level`` and above to ``out``."""
    observer = filtered_observer(command, level, out)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
