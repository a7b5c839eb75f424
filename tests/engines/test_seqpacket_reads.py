"""
A ``type=seqpacket`` read never hands on part of a message: over a Unix
``SOCK_SEQPACKET`` pair on the host, whose kernel cuts a message longer than
the read as AF_VSOCK's does (``MSG_TRUNC``), with the vsock buffer that sizes
the reads stood in for.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.internet import error
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor

from twisted_hvsock._engines import reactor_seqpacket
from twisted_hvsock._engines.reactor import SeqPacketServer
from twisted_hvsock._engines.threads.families import VSOCK_SEQPACKET
from twisted_hvsock._sockets import vsock as vsock_sockets

#: The buffer the reads are sized to, here.
BUFFER = 100


@pytest.fixture(name="pair")
def pair_fixture() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs:
        theirs.send(b"a" * BUFFER)
        theirs.send(b"b" * (BUFFER + 1))
        yield ours, theirs


def test_the_reactor_engine_closes_rather_than_deliver_part_of_a_message(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reactor_seqpacket, "buffer_size", lambda skt: BUFFER)
    ours, _ = pair
    received: list[bytes] = []
    protocol = Protocol()
    protocol.dataReceived = received.append  # type: ignore[method-assign]
    transport = SeqPacketServer(ours, protocol, (1, 1024), None, 1, MemoryReactor())
    protocol.makeConnection(transport)
    assert transport.doRead() is None
    why = transport.doRead()
    assert isinstance(why, error.ConnectionLost)
    assert f"this connection's {BUFFER}-byte receive size arrived cut short" in str(why)
    assert received == [b"a" * BUFFER]


def test_the_thread_engine_fails_the_read_rather_than_deliver_part_of_a_message(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vsock_sockets, "buffer_size", lambda skt: BUFFER)
    ours, _ = pair
    assert VSOCK_SEQPACKET.receive(ours, 1) == b"a" * BUFFER
    with pytest.raises(OSError, match=f"{BUFFER}-byte receive size arrived cut short"):
        VSOCK_SEQPACKET.receive(ours, 1)
