"""
``startTLS`` for the thread engine's connections, as Twisted's TCP
transports have it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet.interfaces import IProducer

from .transport import ThreadedTransport

__all__ = ["TLSTransport"]


class TLSTransport(ThreadedTransport):
    """
    A connection that can start TLS: Twisted's own TLS layer goes between
    the transport and the protocol, and the transport's methods pass
    through it, as they do on Twisted's TCP transports. Writing to the
    socket itself, the TLS layer goes around them to
    :class:`.ThreadedTransport`'s.
    """

    TLS = False
    _tlsClientDefault = False
    protocol: Any

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        if self._family.messages:
            raise TypeError(
                "startTLS: TLS needs a byte stream, and this vsock connection "
                "carries messages (type=seqpacket)"
            )
        # Imported here: Twisted's TLS layer needs pyOpenSSL, which Twisted
        # itself does not require.
        from twisted.internet import _newtls

        start: Any = _newtls.startTLS
        start(self, contextFactory, normal, ThreadedTransport)

    def write(self, data: bytes) -> None:
        if self.TLS:
            if self.connected:
                self.protocol.write(data)
        else:
            super().write(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        if self.TLS:
            if self.connected:
                self.protocol.writeSequence(iovec)
        else:
            super().writeSequence(iovec)

    def loseConnection(self) -> None:
        if self.TLS:
            if self.connected and not self.disconnecting:
                self.protocol.loseConnection()
        else:
            super().loseConnection()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        if self.TLS:
            self.protocol.registerProducer(producer, streaming)
        else:
            super().registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        if self.TLS:
            self.protocol.unregisterProducer()
        else:
            super().unregisterProducer()
