"""
Forwarding: every connection accepted on one endpoint is relayed to a new
connection to another, both directions, with half-close and backpressure
passed through (see :mod:`twisted_hvsock.relay`).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from .relay import RelayProtocol, splice

__all__ = ["ForwardingFactory"]

_log = Logger()


class _Inbound(RelayProtocol):
    factory: ForwardingFactory

    def connectionMade(self) -> None:
        super().connectionMade()  # reading pauses until the far side is up
        outbound = self.factory.destination.connect(Factory.forProtocol(RelayProtocol))
        outbound.addCallbacks(self._far_side_connected, self._far_side_failed)

    def _far_side_connected(self, outbound: RelayProtocol) -> None:
        if self.finished.called:
            outbound.transport.loseConnection()
            return
        splice(self, outbound)

    def _far_side_failed(self, reason: Failure) -> None:
        _log.warn(
            "could not forward {peer}: {reason}",
            peer=self.transport.getPeer(),
            reason=reason.getErrorMessage(),
        )
        self.transport.loseConnection()


class ForwardingFactory(Factory):
    """
    Builds the inbound side of each forwarded connection.

    :param destination: where each accepted connection is relayed to.
    """

    def __init__(self, destination: IStreamClientEndpoint) -> None:
        self.destination = destination

    def buildProtocol(self, addr: Any) -> _Inbound:  # type: ignore[override]
        protocol = _Inbound()
        protocol.factory = self
        return protocol
