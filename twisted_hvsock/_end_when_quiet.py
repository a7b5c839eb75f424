"""
Holding the peer's end of data back from a protocol that cannot be told of
it without losing its connection, until the protocol has finished what it
was doing.

A protocol that is not ``IHalfCloseableProtocol`` learns that its peer has
stopped sending only through ``connectionLost``, after which it cannot
write. Over a plain socket the end of file is read on a later reactor turn
than the request before it, and a protocol that answers within that turn
(as ``twisted.web`` does for a small page) gets its answer out; one still
producing it (a larger file, the next chunk on the next turn) loses the
rest. :class:`EndWhenQuiet` waits instead until a reactor turn goes by in
which the protocol wrote nothing and nothing held its writing back: a
protocol answering keeps the connection, an idle one is ended as it would
be over a plain socket.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from zope.interface import implementer

__all__ = ["EndWhenQuiet", "ResumeWatch"]


class EndWhenQuiet:
    """
    Calls ``end`` once, at the first reactor turn after :meth:`start` in
    which the protocol did not write (:meth:`wrote`) and ``held_back()`` is
    false. While it is held back (reading paused, its producer paused by a
    full buffer), :meth:`look_again` is how it is told to look once more.

    :param clock: where turns are counted.
    :param held_back: whether the protocol cannot be ended yet, and will be
        looked at again through :meth:`look_again`.
    :param end: ends the connection.
    """

    def __init__(
        self,
        clock: IReactorTime,
        held_back: Callable[[], bool],
        end: Callable[[], None],
    ) -> None:
        self._clock = clock
        self._held_back = held_back
        self._end = end
        self._pending = False
        self._writes = 0
        self._writes_before_look = 0
        self._look: IDelayedCall | None = None

    def start(self) -> None:
        """The peer's data has ended: end the connection once it is quiet."""
        self._pending = True
        self.look_again()

    def wrote(self) -> None:
        """The protocol wrote: it is not quiet this turn."""
        self._writes += 1

    def look_again(self) -> None:
        """Look on the next turn, if an end is pending and no look is."""
        if self._pending and self._look is None:
            self._writes_before_look = self._writes
            self._look = self._clock.callLater(0, self._look_now)

    def cancel(self) -> None:
        """The connection is gone: nothing is left to end."""
        self._pending = False
        if self._look is not None:
            self._look.cancel()
            self._look = None

    def _look_now(self) -> None:
        self._look = None
        if self._held_back():
            return
        if self._writes != self._writes_before_look:
            self.look_again()  # still answering
            return
        self._pending = False
        self._end()


@implementer(IPushProducer)
class ResumeWatch:
    """
    A producer as the consumer sees it, reporting each resume (the
    consumer's buffer has room again) to ``resumed`` after passing it on.
    """

    def __init__(self, producer: object, resumed: Callable[[], None]) -> None:
        self._producer = producer
        self._resumed = resumed

    def pauseProducing(self) -> None:
        self._producer.pauseProducing()  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        self._producer.resumeProducing()  # type: ignore[attr-defined]
        self._resumed()

    def stopProducing(self) -> None:
        self._producer.stopProducing()  # type: ignore[attr-defined]
