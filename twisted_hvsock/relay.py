"""
Splicing two connections together: what one side reads, the other writes.

Both directions carry backpressure (each transport produces for the other,
so a slow writer pauses the reader feeding it) and half-close (when one side
stops sending, the other side's write half is shut, and the reverse
direction keeps flowing until it ends too). Nothing read is dropped: a full
close waits for the writes already queued.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IHalfCloseableProtocol, ITransport
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from ._transport import IStreamTransport

__all__ = ["RelayProtocol", "splice"]


@implementer(IHalfCloseableProtocol)
class RelayProtocol(Protocol):
    """
    One side of a relay. Until :func:`splice` joins it to its partner, it
    buffers what it reads (after pausing its transport, so the buffer stays
    small).

    ``finished`` fires with ``None`` once this side's connection is gone, or
    once both its halves have closed cleanly (Twisted's ``StandardIO`` never
    reports ``connectionLost`` when its halves close one at a time);
    ``reason`` says why a lost connection ended.
    """

    transport: IStreamTransport

    def __init__(self) -> None:
        self.partner: RelayProtocol | None = None
        self.finished: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self.read_ended = False
        self.write_ended = False
        self._early: list[bytes] = []

    def connectionMade(self) -> None:
        if self.partner is None:
            self.transport.pauseProducing()

    def dataReceived(self, data: bytes) -> None:
        if self.partner is None:
            self._early.append(data)
        else:
            self.partner.transport.write(data)

    def readConnectionLost(self) -> None:
        self.read_ended = True
        if self.partner is not None:
            self._pass_on_end_of_data()
        self._finish_if_both_halves_ended()

    def _pass_on_end_of_data(self) -> None:
        # Closing a transport can run connectionLost at once, which forgets
        # the partner: hold it here.
        partner = self.partner
        assert partner is not None
        if partner.read_ended:
            # Both directions are done: close, flushing what is queued. My
            # transport produces nothing more for my partner's, and a
            # consumer with a producer still registered may wait for it
            # before closing (TLS does).
            partner.transport.unregisterProducer()
            partner.transport.loseConnection()
            self.transport.loseConnection()
        else:
            # Nothing more will be written there, so it needs no producer; and
            # a consumer that closes stops its producer, which here is the
            # transport still carrying the other direction.
            partner.transport.unregisterProducer()
            _lose_write_side(partner.transport)

    def writeConnectionLost(self) -> None:
        self.write_ended = True
        self._finish_if_both_halves_ended()

    def _finish_if_both_halves_ended(self) -> None:
        if self.read_ended and self.write_ended and not self.finished.called:
            self.finished.callback(None)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.reason = reason
        self.read_ended = self.write_ended = True
        partner, self.partner = self.partner, None
        if partner is not None and partner.transport is not None:
            partner.transport.unregisterProducer()
            partner.transport.loseConnection()
        if not self.finished.called:
            self.finished.callback(None)

    def join(self, partner: RelayProtocol) -> None:
        self.partner = partner
        # My transport's writes come from my partner's reads.
        self.transport.registerProducer(partner.transport, True)
        early, self._early = self._early, []
        for data in early:
            partner.transport.write(data)
        if self.read_ended:
            self._pass_on_end_of_data()
        else:
            self.transport.resumeProducing()


def _lose_write_side(transport: ITransport | None) -> None:
    lose_write = getattr(transport, "loseWriteConnection", None)
    if lose_write is not None:
        lose_write()
    elif transport is not None:
        # No half-close here: closing is the only way to say "no more data".
        transport.loseConnection()


def splice(one: RelayProtocol, other: RelayProtocol) -> Deferred[Any]:
    """
    Join two connected relay sides.

    :return: a Deferred that fires once both connections are gone.
    """
    one.join(other)
    other.join(one)
    return gatherResults([one.finished, other.finished])
