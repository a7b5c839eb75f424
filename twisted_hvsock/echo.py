"""
An echo service that honours half-close: it echoes until the peer stops
sending, then finishes writing and closes. ``hvsock cat --echo`` and the
stress tool's server use it.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

from ._transport import IStreamTransport

__all__ = ["HalfCloseEcho", "echo_factory"]


@implementer(IHalfCloseableProtocol)
class HalfCloseEcho(Protocol):
    """Echoes everything; closes once the peer has half-closed."""

    transport: IStreamTransport

    def connectionMade(self) -> None:
        # A peer that sends without reading must not make us buffer without
        # bound: our writes pause our reads.
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)

    def readConnectionLost(self) -> None:
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


def echo_factory() -> Factory:
    """A factory of :class:`HalfCloseEcho` protocols."""
    return Factory.forProtocol(HalfCloseEcho)
