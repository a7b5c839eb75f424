"""
``type=seqpacket`` vsock connections on both engines, in the guest: every
message arrives whole, in order, and alone, against a raw Python
``SOCK_SEQPACKET`` peer and between the endpoints; the limits and errors the
docs promise (docs/endpoint-strings.rst, "Messages"); half-close, abort,
refused connects and adopted sockets.
"""

from __future__ import annotations

import math
import os
import random
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IHalfCloseableProtocol, ITLSTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_hvsock import IMessageTransport, MessageTooLongError
from twisted_hvsock.address import CID_LOCAL, VSockAddress
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from ..support.streams import ChunkProducer, Echo, factory_for
from ..support.vsock import free_vsock_port

pytestmark = pytest.mark.kernel

#: The kernel's default vsock buffer, and so the longest message.
LARGEST = 256 * 1024
#: SO_VM_SOCKETS_BUFFER_SIZE and SO_VM_SOCKETS_BUFFER_MAX_SIZE.
BUFFER_SIZE, BUFFER_MAX_SIZE = 0, 2


def messages(count: int, largest: int = LARGEST, seed: int = 30) -> list[bytes]:
    """
    ``count`` random messages, 1 byte and ``largest`` bytes among them, the
    other lengths spread evenly over their orders of magnitude (uniform
    lengths would make nearly every message a large one).
    """
    rng = random.Random(seed)
    lengths = [1, largest] + [
        int(math.exp(rng.uniform(0, math.log(largest)))) for _ in range(count - 2)
    ]
    rng.shuffle(lengths)
    return [os.urandom(length) for length in lengths]


def assert_same_messages(got: Sequence[bytes], sent: Sequence[bytes]) -> None:
    """Every message compared with its own, without printing megabytes."""
    for index, (arrived, written) in enumerate(zip(got, sent, strict=False)):
        assert arrived == written, (
            f"message {index}: {len(arrived)} bytes arrived for the "
            f"{len(written)} written"
        )
    assert len(got) == len(sent), f"{len(got)} messages arrived, {len(sent)} sent"


@implementer(IHalfCloseableProtocol)
class Messages(Protocol):
    """
    Writes ``outgoing`` when connected, then, per ``then``, half-closes
    (``"half-close"``), closes (``"close"``) or waits (``"wait"``); keeps
    every message that arrives. ``read_ended`` fires when the peer
    half-closes, ``ended`` with the reason's exception when the connection
    is lost.
    """

    def __init__(
        self, outgoing: Sequence[bytes] = (), then: str = "half-close"
    ) -> None:
        self.outgoing = outgoing
        self.then = then
        self.received: list[bytes] = []
        self.read_ended: Deferred[None] = Deferred()
        self.ended: Deferred[BaseException] = Deferred()

    def connectionMade(self) -> None:
        for message in self.outgoing:
            self.transport.write(message)  # type: ignore[union-attr]
        if self.then == "half-close":
            self.transport.loseWriteConnection()  # type: ignore[union-attr]
        elif self.then == "close":
            self.transport.loseConnection()  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def readConnectionLost(self) -> None:
        self.read_ended.callback(None)
        if self.then != "wait":
            self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.ended.callback(reason.value)


# A raw Python SOCK_SEQPACKET peer, run on a thread. Its sockets block, with
# no timeout: Python's timeouts make a socket non-blocking underneath, and a
# non-blocking send can split a message (docs/endpoint-strings.rst).


@contextmanager
def raw_listener(buffer: int | None = None) -> Iterator[socket.socket]:
    """A listening seqpacket socket on CID 1, with its connections' buffer."""
    listener = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    if buffer is not None:
        set_buffer(listener, buffer)
    listener.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
    listener.listen(1)
    try:
        yield listener
    finally:
        listener.close()


def set_buffer(skt: socket.socket, size: int) -> None:
    skt.setsockopt(socket.AF_VSOCK, BUFFER_MAX_SIZE, max(size, LARGEST))
    skt.setsockopt(socket.AF_VSOCK, BUFFER_SIZE, size)


def raw_connect(port: int) -> socket.socket:
    client = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    client.connect((CID_LOCAL, port))
    return client


def receive_all(skt: socket.socket, size: int = 4 * LARGEST) -> list[bytes]:
    """Every message until the peer's end of stream, checked not to be cut short."""
    got = []
    while True:
        data, _, flags, _ = skt.recvmsg(size)
        assert not flags & socket.MSG_TRUNC
        if not data:
            return got
        got.append(data)


def send_all(skt: socket.socket, outgoing: Sequence[bytes]) -> None:
    for message in outgoing:
        assert skt.send(message) == len(message)
    skt.shutdown(socket.SHUT_WR)


def connect_and_receive(port: int) -> list[bytes]:
    with raw_connect(port) as peer:
        return receive_all(peer)


def accept_and(listener: socket.socket, then: Callable[[socket.socket], Any]) -> Any:
    connection, _ = listener.accept()
    with connection:
        return then(connection)


def server(io: str, **kwargs: Any) -> VSockServerEndpoint:
    return VSockServerEndpoint(reactor, 0, io=io, type="seqpacket", **kwargs)  # type: ignore[arg-type]


def client(io: str, port: int, **kwargs: Any) -> VSockClientEndpoint:
    return VSockClientEndpoint(
        reactor,
        CID_LOCAL,
        port,
        io=io,  # type: ignore[arg-type]
        type="seqpacket",
        **kwargs,
    )


# Whole messages, in order, against a raw peer.


@pytest_twisted.ensureDeferred
async def test_a_raw_client_gets_each_write_of_a_server_as_one_message(
    io: str,
) -> None:
    # Written all at once, far faster than the peer reads: the queue fills,
    # and nothing is merged or split.
    sent = messages(1000)
    port = await server(io).listen(factory_for(lambda: Messages(sent, "close")))
    try:
        got = await deferToThread(connect_and_receive, port.getHost().port)
    finally:
        await port.stopListening()
    assert_same_messages(got, sent)


@pytest_twisted.ensureDeferred
async def test_a_client_gets_each_message_of_a_raw_server_whole(io: str) -> None:
    sent = messages(1000, seed=31)
    with raw_listener() as listener:
        serving = deferToThread(accept_and, listener, lambda peer: send_all(peer, sent))
        protocol = await client(io, listener.getsockname()[1]).connect(
            factory_for(lambda: Messages(then="wait"))
        )
        await protocol.read_ended
        await serving
        protocol.transport.loseConnection()
        await protocol.ended
    assert_same_messages(protocol.received, sent)


@pytest_twisted.ensureDeferred
async def test_a_raw_server_gets_each_write_of_a_client_as_one_message(
    io: str,
) -> None:
    sent = messages(1000, seed=32)
    with raw_listener() as listener:
        receiving = deferToThread(accept_and, listener, receive_all)
        protocol = await client(io, listener.getsockname()[1]).connect(
            factory_for(lambda: Messages(sent, "close"))
        )
        got = await receiving
        await protocol.ended
    assert_same_messages(got, sent)


@pytest_twisted.ensureDeferred
async def test_a_server_gets_each_message_of_a_raw_client_whole(io: str) -> None:
    sent = messages(1000, seed=33)
    servers = factory_for(lambda: Messages(then="half-close"))
    port = await server(io).listen(servers)
    try:
        peer = await deferToThread(raw_connect, port.getHost().port)
        with peer:
            await deferToThread(send_all, peer, sent)
            assert await deferToThread(peer.recv, 16) == b""
        protocol = servers.built[0]  # type: ignore[attr-defined]
        await protocol.ended
    finally:
        await port.stopListening()
    assert_same_messages(protocol.received, sent)


# Between the endpoints, from strings, with a protocol written for streams.


@pytest.mark.parametrize(
    ("server_io", "client_io"),
    [("reactor", "reactor"), ("threads", "threads"), ("reactor", "threads")],
)
@pytest_twisted.ensureDeferred
async def test_the_echo_protocol_echoes_every_message_whole(
    server_io: str, client_io: str
) -> None:
    sent = messages(1000, seed=34)
    port = await serverFromString(
        reactor, f"vsock:0:type=seqpacket:io={server_io}"
    ).listen(Factory.forProtocol(Echo))
    try:
        protocol = await clientFromString(
            reactor,
            f"vsock:local:{port.getHost().port}:type=seqpacket:io={client_io}",
        ).connect(factory_for(lambda: Messages(sent)))
        reason = await protocol.ended
    finally:
        await port.stopListening()
    assert isinstance(reason, error.ConnectionDone)
    assert_same_messages(protocol.received, sent)


# The transport a protocol sees.


@pytest_twisted.ensureDeferred
async def test_the_transport_says_it_keeps_messages_and_has_vsock_addresses(
    io: str,
) -> None:
    accepted: Deferred[Any] = Deferred()

    class Accepted(Protocol):
        def connectionMade(self) -> None:
            accepted.callback(self.transport)

    port = await server(io).listen(Factory.forProtocol(Accepted))
    try:
        protocol = await client(io, port.getHost().port).connect(
            factory_for(lambda: Messages(then="wait"))
        )
        transport = protocol.transport
        assert IMessageTransport.providedBy(transport)
        assert not ITLSTransport.providedBy(transport)
        assert transport.getPeer() == VSockAddress(CID_LOCAL, port.getHost().port)
        assert transport.getHost().cid == CID_LOCAL
        other_end = await accepted
        assert IMessageTransport.providedBy(other_end)
        assert other_end.getHost() == VSockAddress(CID_LOCAL, port.getHost().port)
        assert other_end.getPeer() == VSockAddress(CID_LOCAL, transport.getHost().port)
        with pytest.raises(TypeError, match="TLS needs a byte stream"):
            transport.startTLS(object())
        transport.loseConnection()
        await protocol.ended
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_write_sequence_is_one_message_and_an_empty_write_sends_nothing(
    io: str,
) -> None:
    class Writes(Protocol):
        def connectionMade(self) -> None:
            self.transport.writeSequence([b"one ", b"message"])  # type: ignore[union-attr]
            self.transport.write(b"")  # type: ignore[union-attr]
            self.transport.write(b"next")  # type: ignore[union-attr]
            self.transport.loseConnection()  # type: ignore[union-attr]

    port = await server(io).listen(Factory.forProtocol(Writes))
    try:
        got = await deferToThread(connect_and_receive, port.getHost().port)
    finally:
        await port.stopListening()
    assert got == [b"one message", b"next"]


# The longest message, and one byte more.


@pytest_twisted.ensureDeferred
async def test_a_message_over_the_buffer_is_refused_by_write(io: str) -> None:
    written: Deferred[Any] = Deferred()

    class TooLong(Protocol):
        def connectionMade(self) -> None:
            try:
                self.transport.write(b"x" * (LARGEST + 1))  # type: ignore[union-attr]
            except MessageTooLongError as e:
                written.callback(e)
            self.transport.write(b"y" * LARGEST)  # type: ignore[union-attr]
            self.transport.loseConnection()  # type: ignore[union-attr]

    port = await server(io).listen(Factory.forProtocol(TooLong))
    try:
        got = await deferToThread(connect_and_receive, port.getHost().port)
    finally:
        await port.stopListening()
    refusal = await written
    assert (refusal.size, refusal.limit, refusal.peer) == (LARGEST + 1, LARGEST, False)
    assert str(refusal) == (
        f"a {LARGEST + 1}-byte message is longer than this connection takes: "
        f"{LARGEST} bytes, its vsock buffer (SO_VM_SOCKETS_BUFFER_SIZE)"
    )
    # The connection went on: the longest message went through after it.
    assert got == [b"y" * LARGEST]


@pytest_twisted.ensureDeferred
async def test_a_message_over_the_peer_s_buffer_closes_with_the_reason(
    io: str,
) -> None:
    with raw_listener(buffer=64 * 1024) as listener:
        receiving = deferToThread(accept_and, listener, receive_all)
        protocol = await client(io, listener.getsockname()[1]).connect(
            factory_for(lambda: Messages([b"fits", b"z" * 100_000], then="wait"))
        )
        reason = await protocol.ended
        got = await receiving
    assert isinstance(reason, MessageTooLongError)
    assert reason.peer
    assert "refused a 100000-byte message (ENOMEM)" in str(reason)
    assert got == [b"fits"]


@pytest_twisted.ensureDeferred
async def test_a_buffer_raised_after_connecting_carries_longer_messages(
    io: str,
) -> None:
    longer = os.urandom(2 * LARGEST)
    with raw_listener(buffer=4 * LARGEST) as listener:
        peer_ready: Deferred[socket.socket] = deferToThread(
            lambda: listener.accept()[0]
        )

        class Grows(Messages):
            def connectionMade(self) -> None:
                set_buffer(self.transport.getHandle(), 4 * LARGEST)  # type: ignore[union-attr]
                # The peer learns the new buffer from what this side sends.
                self.transport.write(b"grown")  # type: ignore[union-attr]
                self.transport.write(longer)  # type: ignore[union-attr]

        protocol = await client(io, listener.getsockname()[1]).connect(
            factory_for(lambda: Grows(then="wait"))
        )
        peer = await peer_ready
        with peer:
            got = await deferToThread(
                lambda: [peer.recv(4 * LARGEST), peer.recv(4 * LARGEST)]
            )
            await deferToThread(send_all, peer, [longer[::-1]])
            await protocol.read_ended
        protocol.transport.loseConnection()
        await protocol.ended
    assert got == [b"grown", longer]
    assert_same_messages(protocol.received, [longer[::-1]])


# Writing faster than the peer reads.


@pytest_twisted.ensureDeferred
async def test_a_streaming_producer_is_paused_and_nothing_merges(io: str) -> None:
    producers: list[ChunkProducer] = []
    paused: Deferred[int] = Deferred()

    class Streamer(Protocol):
        def connectionMade(self) -> None:
            producer = ChunkProducer(self.transport, 8 * 1024 * 1024, 100_000)
            producers.append(producer)
            producer.first_pause.chainDeferred(paused)
            producer.start()

    port = await server(io).listen(Factory.forProtocol(Streamer))
    try:
        peer = await deferToThread(raw_connect, port.getHost().port)
        with peer:
            # Nothing is read until the producer has been paused.
            await paused
            got = await deferToThread(receive_all, peer)
    finally:
        await port.stopListening()
    data = producers[0].data
    assert_same_messages(
        got, [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    )


# Half-close, abort, refusal.


@pytest_twisted.ensureDeferred
async def test_half_close_each_way_delivers_the_messages_in_flight(io: str) -> None:
    to_server, to_client = messages(200, seed=35), messages(200, seed=36)

    @implementer(IHalfCloseableProtocol)
    class AnswerAfterHalfClose(Messages):
        def readConnectionLost(self) -> None:
            # Only once every message of the client's is in: answer, close.
            self.read_ended.callback(None)
            for message in to_client:
                self.transport.write(message)  # type: ignore[union-attr]
            self.transport.loseConnection()  # type: ignore[union-attr]

    servers = factory_for(lambda: AnswerAfterHalfClose(then="wait"))
    port = await server(io).listen(servers)
    try:
        protocol = await client(io, port.getHost().port).connect(
            factory_for(lambda: Messages(to_server, "half-close"))
        )
        await protocol.ended
    finally:
        await port.stopListening()
    assert_same_messages(servers.built[0].received, to_server)  # type: ignore[attr-defined]
    assert_same_messages(protocol.received, to_client)


@pytest_twisted.ensureDeferred
async def test_abort_drops_queued_messages_and_sends_no_part_of_one(io: str) -> None:
    sent = [os.urandom(100_000) for _ in range(40)]

    class WriteThenAbort(Messages):
        def connectionMade(self) -> None:
            for message in sent:
                self.transport.write(message)  # type: ignore[union-attr]
            self.transport.abortConnection()  # type: ignore[union-attr]
            self.transport.write(b"after the abort")  # type: ignore[union-attr]

    with raw_listener() as listener:
        receiving = deferToThread(accept_and, listener, receive_all)
        protocol = await client(io, listener.getsockname()[1]).connect(
            factory_for(lambda: WriteThenAbort(then="wait"))
        )
        reason = await protocol.ended
        got = await receiving
    assert isinstance(reason, error.ConnectionAborted)
    # Whatever got out before the abort is whole messages, the first ones.
    assert len(got) < len(sent)
    assert_same_messages(got, sent[: len(got)])


@pytest_twisted.ensureDeferred
async def test_connecting_where_nothing_listens_for_messages_is_refused(
    io: str,
) -> None:
    with pytest.raises(error.ConnectionRefusedError, match="for type=seqpacket"):
        await client(io, free_vsock_port()).connect(Factory.forProtocol(Protocol))
    stream = await VSockServerEndpoint(reactor, 0).listen(Factory.forProtocol(Protocol))
    try:
        with pytest.raises(error.ConnectionRefusedError, match="a stream listener"):
            await client(io, stream.getHost().port).connect(
                Factory.forProtocol(Protocol)
            )
    finally:
        await stream.stopListening()


@pytest_twisted.ensureDeferred
async def test_wait_keeps_trying_until_a_seqpacket_listener_is_there(io: str) -> None:
    number = free_vsock_port()
    started: list[Any] = []

    def listen_later() -> None:
        started.append(
            VSockServerEndpoint(reactor, number, type="seqpacket").listen(
                Factory.forProtocol(Echo)
            )
        )

    reactor.callLater(1, listen_later)  # type: ignore[attr-defined]
    protocol = await client(io, number, wait=60, timeout=5).connect(
        factory_for(lambda: Messages([b"ping"], "half-close"))
    )
    await protocol.ended
    assert protocol.received == [b"ping"]
    await (await started[0]).stopListening()


@pytest_twisted.ensureDeferred
async def test_the_allow_list_refuses_other_peers(io: str) -> None:
    port = await server(io, allow="host").listen(Factory.forProtocol(Echo))
    try:
        peer = await deferToThread(raw_connect, port.getHost().port)
        with peer:
            assert await deferToThread(peer.recv, 16) == b""
        assert port.refused == 1
    finally:
        await port.stopListening()


# Adopting an inherited listening socket (fd=, systemd=).


@pytest_twisted.ensureDeferred
async def test_an_adopted_seqpacket_socket_serves_messages(io: str) -> None:
    listener = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    listener.bind((CID_LOCAL, socket.VMADDR_PORT_ANY))
    listener.listen(8)
    number = listener.getsockname()[1]
    port = await serverFromString(
        reactor, f"vsock:fd={listener.detach()}:type=seqpacket:io={io}"
    ).listen(Factory.forProtocol(Echo))
    try:
        protocol = await client(io, number).connect(
            factory_for(lambda: Messages([b"a", b"bb"], "half-close"))
        )
        await protocol.ended
    finally:
        await port.stopListening()
    assert protocol.received == [b"a", b"bb"]


@pytest.mark.parametrize(
    ("kind", "option", "hint"),
    [
        (
            socket.SOCK_SEQPACKET,
            "",
            "SOCK_SEQPACKET socket, not an AF_VSOCK SOCK_STREAM one "
            r"\(add type=seqpacket",
        ),
        (
            socket.SOCK_STREAM,
            ":type=seqpacket",
            "SOCK_STREAM socket, not an AF_VSOCK SOCK_SEQPACKET one "
            r"\(leave out type=seqpacket",
        ),
    ],
)
@pytest_twisted.ensureDeferred
async def test_adopting_a_socket_of_the_other_type_says_which_option_fits(
    io: str, kind: int, option: str, hint: str
) -> None:
    listener = socket.socket(socket.AF_VSOCK, kind)
    with listener:
        listener.bind((CID_LOCAL, socket.VMADDR_PORT_ANY))
        listener.listen(8)
        endpoint = serverFromString(
            reactor, f"vsock:fd={listener.fileno()}{option}:io={io}"
        )
        with pytest.raises(error.CannotListenError, match=hint):
            await endpoint.listen(Factory.forProtocol(Echo))
        # Left open and as it was, for its owner.
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
