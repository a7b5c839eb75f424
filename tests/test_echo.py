"""
The echo service ``hvsock cat --echo`` and ``hvsock stress --server`` run:
everything comes back, the peer's writes cannot make it buffer without
bound, and the peer's half-close ends the connection once the echo is out.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.testing import StringTransport

from twisted_hvsock.echo import HalfCloseEcho, echo_factory


def connected() -> tuple[HalfCloseEcho, StringTransport]:
    protocol = echo_factory().buildProtocol(None)
    assert isinstance(protocol, HalfCloseEcho)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_everything_received_is_written_back_in_order() -> None:
    protocol, transport = connected()
    for chunk in (b"one ", b"", b"two ", b"\x00" * 70_000):
        protocol.dataReceived(chunk)
    assert transport.value() == b"one two " + b"\x00" * 70_000


def test_its_writes_pause_its_reads() -> None:
    # The transport is its own streaming producer: a peer that never reads
    # pauses our reading instead of growing our buffer.
    _, transport = connected()
    assert transport.producer is transport
    assert transport.streaming


def test_the_peer_s_half_close_ends_the_connection_after_the_echo() -> None:
    protocol, transport = connected()
    protocol.dataReceived(b"last words")
    IHalfCloseableProtocol(protocol).readConnectionLost()
    assert transport.producer is None
    assert transport.disconnecting
    assert transport.value() == b"last words"


def test_a_write_side_closed_first_keeps_the_connection_reading() -> None:
    protocol, transport = connected()
    IHalfCloseableProtocol(protocol).writeConnectionLost()
    assert not transport.disconnecting
    protocol.dataReceived(b"still here")
    assert transport.value() == b"still here"
