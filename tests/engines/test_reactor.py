"""
On io=reactor a small write goes to the socket at once, as asyncio's
transports send, instead of waiting for the reactor's next turn: what makes a
request/reply round trip cost one reactor wake-up per end. Each test blocks
the reactor thread in a plain ``recv`` right after ``write`` returns, so only
data already handed to the kernel can arrive. Guest only (AF_VSOCK).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import connectProtocol
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from ..support.vsock import CID_LOCAL

pytestmark = pytest.mark.kernel

#: How long the blocked reactor waits for bytes that are not coming.
PATIENCE = 10.0


class Collects(Protocol):
    """Keeps what arrives; ``made`` fires once connected."""

    def __init__(self) -> None:
        self.made: Deferred[None] = Deferred()
        self.received = b""

    def connectionMade(self) -> None:
        self.made.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.received += data


@pytest.fixture
def raw_listener() -> Iterator[socket.socket]:
    listener = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    listener.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
    listener.listen(1)
    yield listener
    listener.close()


def receive(peer: socket.socket, size: int) -> bytes:
    """Read ``size`` bytes on the reactor thread, which cannot send meanwhile."""
    peer.settimeout(PATIENCE)
    data = b""
    while len(data) < size:
        chunk = peer.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


async def connect_client(listener: socket.socket) -> tuple[Collects, socket.socket]:
    """An io=reactor client connected to ``listener``, and the accepted peer."""
    port = listener.getsockname()[1]
    endpoint = VSockClientEndpoint(reactor, CID_LOCAL, port, io="reactor")
    client = await connectProtocol(endpoint, Collects())
    peer, _ = listener.accept()
    return client, peer


@pytest_twisted.ensureDeferred
async def test_a_client_s_write_is_on_the_socket_when_write_returns(
    raw_listener: socket.socket,
) -> None:
    client, peer = await connect_client(raw_listener)
    try:
        assert client.transport is not None
        client.transport.write(b"request")
        assert receive(peer, 7) == b"request"
        client.transport.writeSequence([b"one ", b"two"])
        assert receive(peer, 7) == b"one two"
    finally:
        peer.close()
        client.transport.loseConnection()  # type: ignore[union-attr]


@pytest_twisted.ensureDeferred
async def test_a_server_s_reply_is_on_the_socket_when_write_returns() -> None:
    server = Collects()
    endpoint = VSockServerEndpoint(reactor, 0, io="reactor")
    listening = await endpoint.listen(Factory.forProtocol(lambda: server))
    peer = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    try:
        peer.connect((CID_LOCAL, listening.getHost().port))
        await server.made
        assert server.transport is not None
        server.transport.write(b"reply")
        assert receive(peer, 5) == b"reply"
    finally:
        peer.close()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_what_the_kernel_does_not_take_at_once_follows_in_order(
    raw_listener: socket.socket,
) -> None:
    client, peer = await connect_client(raw_listener)
    # Writes that overflow the socket's buffer while the peer reads
    # nothing: the first goes straight to the kernel in part, the rest is
    # buffered, and every byte must arrive once the peer reads, in order.
    chunk = bytes(range(256)) * 1024
    writes = 8
    try:
        assert client.transport is not None
        for _ in range(writes):
            client.transport.write(chunk)
        # Read on a thread, so that the reactor can send the buffered rest.
        received = await threads.deferToThread(receive, peer, len(chunk) * writes)
        assert received == chunk * writes
    finally:
        peer.close()
        client.transport.loseConnection()  # type: ignore[union-attr]
