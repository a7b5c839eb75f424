"""
Relays: both directions arrive whole through half-close, whichever side
ends first, over plain and TLS connections on real Unix sockets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint
from twisted.internet.interfaces import IHalfCloseableProtocol, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_hvsock.relay import RelayProtocol, splice
from twisted_hvsock.tls import (
    TLSClientEndpoint,
    TLSServerEndpoint,
    client_tls_options,
    server_tls_options,
)

from .support.streams import digest, payload
from .support.tls import write_self_signed
from .support.unix import short_directory

MiB = 1024 * 1024


@pytest.fixture
def places(tmp_path: Any) -> Iterator[tuple[str, str]]:
    """A directory with a server's PEM files, and one for sockets."""
    write_self_signed(tmp_path, "server", "web.example")
    for sockets in short_directory():
        yield str(tmp_path), sockets


@implementer(IHalfCloseableProtocol)
class Peer(Protocol):
    """
    One end of the relay: sends ``outgoing`` then half-closes, either at
    once or only after the other end's data has all arrived (so that the
    other end is the first to end); collects what arrives, and closes once
    the other end's data has ended.
    """

    def __init__(self, outgoing: bytes, wait_for_other_end: bool) -> None:
        self.outgoing = outgoing
        self.wait_for_other_end = wait_for_other_end
        self.received = b""
        self.lost: Deferred[None] = Deferred()
        self.ended_writing = False

    def connectionMade(self) -> None:
        if not self.wait_for_other_end:
            self._send_and_end()

    def _send_and_end(self) -> None:
        self.transport.write(self.outgoing)  # type: ignore[union-attr]
        self.transport.loseWriteConnection()  # type: ignore[union-attr]
        self.ended_writing = True

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def readConnectionLost(self) -> None:
        if not self.ended_writing:
            self._send_and_end()
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


async def relay_between(
    places: tuple[str, str], tls: bool, first_to_end: str
) -> tuple[Peer, Peer, bytes, bytes]:
    """
    A "server" peer listening (over TLS if ``tls``), a relay connecting to
    it, and a "client" peer connecting to the relay; ``first_to_end`` says
    which peer half-closes first.
    """
    pems, sockets = places
    to_server, to_client = payload(MiB), payload(MiB)
    server = Peer(to_client, wait_for_other_end=first_to_end != "server")
    client = Peer(to_server, wait_for_other_end=first_to_end != "client")
    server_endpoint: Any = UNIXServerEndpoint(reactor, f"{sockets}/server")
    upstream: IStreamClientEndpoint = UNIXClientEndpoint(reactor, f"{sockets}/server")
    if tls:
        server_endpoint = TLSServerEndpoint(
            server_endpoint, server_tls_options(f"{pems}/server.pem")
        )
        upstream = TLSClientEndpoint(
            upstream,
            client_tls_options("web.example", trustRoots=f"{pems}/server-ca.pem"),
        )
    server_port = await server_endpoint.listen(Factory.forProtocol(lambda: server))
    accepted: Deferred[RelayProtocol] = Deferred()

    def accept(addr: Any) -> RelayProtocol:
        relay_side = RelayProtocol()
        accepted.callback(relay_side)
        return relay_side

    relay_factory = Factory()
    relay_factory.buildProtocol = accept  # type: ignore[method-assign]
    relay_port = await UNIXServerEndpoint(reactor, f"{sockets}/relay").listen(
        relay_factory
    )
    try:
        await UNIXClientEndpoint(reactor, f"{sockets}/relay").connect(
            Factory.forProtocol(lambda: client)
        )
        downstream = await accepted
        upstream_side = await upstream.connect(Factory.forProtocol(RelayProtocol))
        await splice(downstream, upstream_side)  # type: ignore[arg-type]
        await server.lost
        await client.lost
    finally:
        await relay_port.stopListening()
        await server_port.stopListening()
    return server, client, to_server, to_client


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("first_to_end", ["client", "server"])
@pytest_twisted.ensureDeferred
async def test_a_relay_carries_both_directions_whichever_ends_first(
    places: tuple[str, str], tls: bool, first_to_end: str
) -> None:
    server, client, to_server, to_client = await relay_between(
        places, tls, first_to_end
    )
    assert digest(server.received) == digest(to_server)
    assert digest(client.received) == digest(to_client)
