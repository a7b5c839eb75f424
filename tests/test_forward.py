"""
The forwarder in-process: backpressure passes through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock.forward import ForwardingFactory

from .support.streams import ChunkProducer, digest

MiB = 1024 * 1024


@pytest_twisted.ensureDeferred
async def test_a_destination_that_stops_reading_stops_the_source(
    tmp_path: Path,
) -> None:
    total = 64 * MiB
    destination_paused: Deferred[Protocol] = Deferred()
    received: list[bytes] = []
    all_received: Deferred[None] = Deferred()

    class SlowDestination(Protocol):
        def connectionMade(self) -> None:
            self.transport.pauseProducing()  # type: ignore[union-attr]
            destination_paused.callback(self)

        def dataReceived(self, data: bytes) -> None:
            received.append(data)

        def connectionLost(self, reason: Any = None) -> None:
            all_received.callback(None)

    destination_port = await UNIXServerEndpoint(reactor, str(tmp_path / "d")).listen(
        Factory.forProtocol(SlowDestination)
    )
    forwarder_port = await UNIXServerEndpoint(reactor, str(tmp_path / "f")).listen(
        ForwardingFactory(UNIXClientEndpoint(reactor, str(tmp_path / "d")))
    )
    first_pause: Deferred[int] = Deferred()
    producers: list[ChunkProducer] = []

    class Source(Protocol):
        def connectionMade(self) -> None:
            producer = ChunkProducer(self.transport, total)
            producers.append(producer)
            producer.first_pause.chainDeferred(first_pause)
            producer.start()

    try:
        await UNIXClientEndpoint(reactor, str(tmp_path / "f")).connect(
            Factory.forProtocol(Source)
        )
        destination = await destination_paused
        sent_when_paused = await first_pause
        destination.transport.resumeProducing()  # type: ignore[union-attr]
        await all_received
    finally:
        await forwarder_port.stopListening()
        await destination_port.stopListening()
    # The source was held back long before the forwarder could buffer it all.
    assert sent_when_paused < total // 2
    assert digest(b"".join(received)) == digest(producers[0].data)
