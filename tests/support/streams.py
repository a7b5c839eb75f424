"""
Protocols that move bulk data and check it, shared by the transport tests.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer


def payload(size: int) -> bytes:
    """Random bytes, so that a reordering or a lost chunk cannot go unseen."""
    return os.urandom(size)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@implementer(IHalfCloseableProtocol)
class SendAndCollect(Protocol):
    """
    Sends ``outgoing``, half-closes, and hashes everything it receives until
    the peer half-closes too; then closes.

    ``finished`` fires with ``(sha256 hex of what arrived, byte count)`` once
    the connection is gone, after both directions have ended.
    """

    def __init__(self, outgoing: bytes = b"") -> None:
        self.outgoing = outgoing
        self.received = hashlib.sha256()
        self.count = 0
        self.finished: Deferred[tuple[str, int]] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.outgoing)  # type: ignore[union-attr]
        self.transport.loseWriteConnection()  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received.update(data)
        self.count += len(data)

    def readConnectionLost(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.finished.callback((self.received.hexdigest(), self.count))


@implementer(IHalfCloseableProtocol)
class DigestAfterHalfClose(Protocol):
    """
    Hashes what arrives; when the peer half-closes, answers with the hex
    digest and byte count, then closes.
    """

    def __init__(self) -> None:
        self.received = hashlib.sha256()
        self.count = 0

    def dataReceived(self, data: bytes) -> None:
        self.received.update(data)
        self.count += len(data)

    def readConnectionLost(self) -> None:
        answer = f"{self.received.hexdigest()} {self.count}".encode()
        self.transport.write(answer)  # type: ignore[union-attr]
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass


@implementer(IHalfCloseableProtocol)
class Echo(Protocol):
    """Echoes, and closes once the peer half-closes and all is echoed."""

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    def readConnectionLost(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass


@implementer(IPushProducer)
class ChunkProducer:
    """
    Streams ``total`` bytes in ``chunk``-sized writes for as long as the
    transport lets it, tracking how far it ran ahead of the reader.
    """

    def __init__(self, transport: Any, total: int, chunk: int = 64 * 1024) -> None:
        self.transport = transport
        self.data = payload(total)
        self.chunk = chunk
        self.sent = 0
        self.paused = False
        self.first_pause: Deferred[int] = Deferred()

    def start(self) -> None:
        self.transport.registerProducer(self, True)
        self.resumeProducing()

    def pauseProducing(self) -> None:
        self.paused = True
        if not self.first_pause.called:
            self.first_pause.callback(self.sent)

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.sent < len(self.data):
            self.transport.write(self.data[self.sent : self.sent + self.chunk])
            self.sent += self.chunk
        if self.sent >= len(self.data):
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def stopProducing(self) -> None:
        self.paused = True


def factory_for(build: Any) -> Factory:
    """A factory whose protocols come from ``build()``, remembered in order."""
    factory = Factory()
    factory.built = []  # type: ignore[attr-defined]

    def buildProtocol(addr: Any) -> Protocol:
        protocol = build()
        protocol.factory = factory
        factory.built.append(protocol)  # type: ignore[attr-defined]
        return protocol  # type: ignore[no-any-return]

    factory.buildProtocol = buildProtocol  # type: ignore[method-assign]
    return factory


async def exchange_both_ways(
    family: Any, to_server: bytes, to_client: bytes
) -> tuple[tuple[str, int], tuple[str, int]]:
    """
    Send ``to_server`` and ``to_client`` at once over one connection between
    ``family``'s endpoints (a :class:`tests.support.families.Family`), each
    end half-closing once it has sent; what the server and the client got,
    as :class:`SendAndCollect` reports it.
    """
    server = factory_for(lambda: SendAndCollect(to_client))
    port = await family.server().listen(server)
    try:
        client = await family.client(port).connect(
            factory_for(lambda: SendAndCollect(to_server))
        )
        client_got = await client.finished
        server_got = await server.built[0].finished  # type: ignore[attr-defined]
    finally:
        await port.stopListening()
    return server_got, client_got
