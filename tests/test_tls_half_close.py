"""
Half-close through TLS: ``close_notify`` ends one direction, over real Unix
sockets on the host and AF_VSOCK in the guest on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import (
    UNIXClientEndpoint,
    UNIXServerEndpoint,
    clientFromString,
    serverFromString,
)
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IListeningPort,
    IProtocolFactory,
    IPushProducer,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import CertificateOptions, PrivateCertificate, TLSVersion
from twisted.internet.task import deferLater
from twisted.logger import LogEvent, globalLogPublisher
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.web.server import Site
from twisted.web.static import File
from zope.interface import implementer

from twisted_hvsock.tls import (
    TLSClientEndpoint,
    TLSServerEndpoint,
    client_tls_options,
    server_tls_options,
)

from .support.hvsock_cli import hvsock
from .support.streams import DigestAfterHalfClose, SendAndCollect, digest, payload
from .support.tls import write_self_signed
from .support.twistd import start_twistd_web, wait_until_serving_vsock
from .support.unix import short_directory
from .support.vsock import free_vsock_port

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``server.pem`` (key and certificate for web.example) and its root."""
    server, root = write_self_signed(
        tmp_path_factory.mktemp("pems"), "server", "web.example"
    )
    return {"server": server, "server-ca": root}


@pytest.fixture
def socket_path() -> Iterator[str]:
    for directory in short_directory():
        yield f"{directory}/s"


def client_options(pems: dict[str, str]) -> Any:
    return client_tls_options("web.example", trustRoots=pems["server-ca"])


@implementer(IHalfCloseableProtocol)
class Recorder(Protocol):
    """
    Records what happens to a connection, in order: ``data``,
    ``readConnectionLost``, ``writeConnectionLost``, ``connectionLost``;
    ``on_data`` and ``on_read_end`` let a test act at those moments.
    """

    def __init__(self) -> None:
        self.events: list[str] = []
        self.received = b""
        # Fires with the exception that ended the connection.
        self.lost: Deferred[BaseException] = Deferred()
        self.on_data: Any = None
        self.on_read_end: Any = None

    def dataReceived(self, data: bytes) -> None:
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.received += data
        if self.on_data is not None:
            self.on_data(self)

    def readConnectionLost(self) -> None:
        self.events.append("readConnectionLost")
        if self.on_read_end is not None:
            self.on_read_end(self)

    def writeConnectionLost(self) -> None:
        self.events.append("writeConnectionLost")

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None
        self.events.append("connectionLost")
        self.lost.callback(reason.value)


async def connected(
    socket_path: str,
    server_options: Any,
    server: IProtocolFactory,
    client: Protocol,
    pems: dict[str, str],
) -> IListeningPort:
    """
    A TLS listener at ``socket_path`` serving ``server``, and ``client``
    connected to it through TLS; the caller stops the listener.
    """
    port = await TLSServerEndpoint(
        UNIXServerEndpoint(reactor, socket_path), server_options
    ).listen(server)
    try:
        await TLSClientEndpoint(
            UNIXClientEndpoint(reactor, socket_path), client_options(pems)
        ).connect(Factory.forProtocol(lambda: client))
    except BaseException:
        await port.stopListening()
        raise
    return port


def reply_then(close: str, reply: bytes) -> Any:
    """What a server does once the client's writing ends."""

    def act(protocol: Recorder) -> None:
        protocol.transport.write(reply)  # type: ignore[union-attr]
        getattr(protocol.transport, close)()

    return act


@pytest.mark.parametrize("size", [4, MiB])
@pytest.mark.parametrize("close", ["loseConnection", "loseWriteConnection"])
@pytest_twisted.ensureDeferred
async def test_half_close_through_tls_keeps_the_other_direction(
    pems: dict[str, str], socket_path: str, size: int, close: str
) -> None:
    request, reply = payload(size), payload(size)
    server = Recorder()
    server.on_read_end = reply_then(close, reply)
    client = Recorder()
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Factory.forProtocol(lambda: server),
        client,
        pems,
    )
    try:
        client.transport.write(request)  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        reason = await client.lost
        await server.lost
    finally:
        await port.stopListening()
    assert digest(server.received) == digest(request)
    assert digest(client.received) == digest(reply)
    assert isinstance(reason, error.ConnectionDone)
    assert client.events == [
        "writeConnectionLost",
        "data",
        "readConnectionLost",
        "connectionLost",
    ]
    assert server.events[:2] == ["data", "readConnectionLost"]


@pytest_twisted.ensureDeferred
async def test_half_close_before_the_handshake_ends_waits_for_it(
    pems: dict[str, str], socket_path: str
) -> None:
    # `hvsock cat < /dev/null`: stdin ends before TLS is set up.
    server = Recorder()
    server.on_read_end = reply_then("loseConnection", b"reply")
    client = Recorder()
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Factory.forProtocol(lambda: server),
        client,
        pems,
    )
    try:
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        reason = await client.lost
    finally:
        await port.stopListening()
    assert server.received == b"" and client.received == b"reply"
    assert isinstance(reason, error.ConnectionDone)


@pytest_twisted.ensureDeferred
async def test_under_tls_1_2_a_half_close_ends_the_connection(
    pems: dict[str, str], socket_path: str
) -> None:
    # RFC 5246 says a close_notify ends the connection; the server gets no
    # readConnectionLost and cannot answer.
    identity = PrivateCertificate.loadPEM(Path(pems["server"]).read_bytes())
    tls_1_2 = CertificateOptions(
        privateKey=identity.privateKey.original,
        certificate=identity.original,
        lowerMaximumSecurityTo=TLSVersion.TLSv1_2,
    )
    server = Recorder()
    server.on_read_end = reply_then("loseConnection", b"reply")
    client = Recorder()
    port = await connected(
        socket_path, tls_1_2, Factory.forProtocol(lambda: server), client, pems
    )
    try:
        client.transport.write(b"request")  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        server_reason = await server.lost
        await client.lost
    finally:
        await port.stopListening()
    assert server.received == b"request"
    assert "readConnectionLost" not in server.events
    assert isinstance(server_reason, error.ConnectionDone)
    assert client.received == b""


@pytest_twisted.ensureDeferred
async def test_a_stream_cut_short_without_close_notify_is_a_lost_connection(
    pems: dict[str, str], socket_path: str
) -> None:
    # Twisted's own TLS server half-closes the socket under TLS, so no
    # close_notify is sent: the client must not take that as an end.
    def cut_short(protocol: Recorder) -> None:
        protocol.transport.loseWriteConnection()  # type: ignore[union-attr]

    server = Recorder()
    server.on_data = cut_short
    port = await UNIXServerEndpoint(reactor, socket_path).listen(
        TLSMemoryBIOFactory(
            server_tls_options(pems["server"]),
            False,
            Factory.forProtocol(lambda: server),
        )
    )
    try:
        client = Recorder()
        await TLSClientEndpoint(
            UNIXClientEndpoint(reactor, socket_path), client_options(pems)
        ).connect(Factory.forProtocol(lambda: client))
        client.transport.write(b"request")  # type: ignore[union-attr]
        reason = await client.lost
        server.transport.loseConnection()  # type: ignore[union-attr]
        await server.lost
    finally:
        await port.stopListening()
    assert isinstance(reason, error.ConnectionLost)
    assert "readConnectionLost" not in client.events


@pytest.fixture
def failures() -> Iterator[list[LogEvent]]:
    """The failures logged while the test runs (``log.err`` ones too)."""
    seen: list[LogEvent] = []

    def observe(event: LogEvent) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            seen.append(event)

    globalLogPublisher.addObserver(observe)
    yield seen
    globalLogPublisher.removeObserver(observe)


@pytest_twisted.ensureDeferred
async def test_a_stream_cut_short_after_a_half_close_is_a_lost_connection(
    pems: dict[str, str], socket_path: str, failures: list[LogEvent]
) -> None:
    # hvsock cat < request, and the server's socket ends without
    # close_notify: cat must see a truncation, in words, with no traceback.
    def answer_then_cut(protocol: Recorder) -> None:
        tls: Any = protocol.transport
        tls.write(b"partial")
        tls.transport.loseWriteConnection()  # the socket under TLS

    server = Recorder()
    server.on_read_end = answer_then_cut
    client = Recorder()
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Factory.forProtocol(lambda: server),
        client,
        pems,
    )
    try:
        client.transport.write(b"request")  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        reason = await client.lost
        server.transport.loseConnection()  # type: ignore[union-attr]
        await server.lost
    finally:
        await port.stopListening()
    assert client.received == b"partial"
    assert isinstance(reason, error.ConnectionLost)
    assert str(reason) == (
        "the peer's TLS stream ended without close_notify, so what arrived "
        "may be cut short"
    )
    assert failures == []


@pytest_twisted.ensureDeferred
async def test_a_connection_the_factory_declines_is_closed(
    pems: dict[str, str], socket_path: str
) -> None:
    declining = Factory()
    declining.buildProtocol = lambda addr: None  # type: ignore[method-assign]
    client = Recorder()
    port = await connected(
        socket_path, server_tls_options(pems["server"]), declining, client, pems
    )
    try:
        reason = await client.lost
    finally:
        await port.stopListening()
    assert client.received == b""
    assert not isinstance(reason, error.ConnectionDone)


@pytest_twisted.ensureDeferred
async def test_a_protocol_without_half_close_still_gets_all_the_data(
    pems: dict[str, str], socket_path: str
) -> None:
    # The server's protocol is not half-closeable: the client's
    # close_notify ends its connection, after all the data.
    class Collect(Protocol):
        def __init__(self) -> None:
            self.received = b""
            self.lost: Deferred[BaseException] = Deferred()

        def dataReceived(self, data: bytes) -> None:
            self.received += data

        def connectionLost(self, reason: Failure | None = None) -> None:
            assert reason is not None
            self.lost.callback(reason.value)

    request = payload(MiB)
    server = Collect()
    client = Recorder()
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Factory.forProtocol(lambda: server),
        client,
        pems,
    )
    try:
        client.transport.write(request)  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        reason = await server.lost
        await client.lost
    finally:
        await port.stopListening()
    assert digest(server.received) == digest(request)
    assert isinstance(reason, error.ConnectionDone)


def close_when_read_ends(protocol: Recorder) -> None:
    protocol.transport.loseConnection()  # type: ignore[union-attr]


@pytest.mark.parametrize("size", [13, 4 * MiB])
@pytest_twisted.ensureDeferred
async def test_twisted_web_answers_a_request_sent_with_a_half_close(
    pems: dict[str, str], socket_path: str, tmp_path: Path, size: int
) -> None:
    # printf 'GET / HTTP/1.0\r\n\r\n' | hvsock cat ...tls=yes...: the request
    # and close_notify arrive together. HTTPChannel is not half-closeable,
    # and a page takes one reactor turn or many to send (a slow machine
    # needs more): the close_notify waits until the answer is out.
    page = payload(size)
    (tmp_path / "page").write_bytes(page)
    client = Recorder()
    client.on_read_end = close_when_read_ends
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Site(File(str(tmp_path))),
        client,
        pems,
    )
    try:
        client.transport.write(b"GET /page HTTP/1.0\r\n\r\n")  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        reason = await client.lost
    finally:
        await port.stopListening()
    head, _, body = client.received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert digest(body) == digest(page)
    assert isinstance(reason, error.ConnectionDone)


class Greeter(Protocol):
    """Not half-closeable: says hello, keeps what it gets, never closes."""

    def __init__(self) -> None:
        self.received = b""
        self.lost: Deferred[BaseException] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"hello")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None
        self.lost.callback(reason.value)


@pytest_twisted.ensureDeferred
async def test_a_close_notify_ends_an_idle_protocol_without_half_close(
    pems: dict[str, str], socket_path: str
) -> None:
    # Twisted's own TLS client closes by sending close_notify and waiting
    # for the server's: a server protocol that does not close by itself
    # must still be ended once it is idle, as over a plain socket.
    server = Greeter()
    port = await TLSServerEndpoint(
        UNIXServerEndpoint(reactor, socket_path), server_tls_options(pems["server"])
    ).listen(Factory.forProtocol(lambda: server))
    try:
        client = Recorder()
        client.on_data = close_when_read_ends
        await UNIXClientEndpoint(reactor, socket_path).connect(
            TLSMemoryBIOFactory(
                client_options(pems), True, Factory.forProtocol(lambda: client)
            )
        )
        client.transport.write(b"request")  # type: ignore[union-attr]
        server_reason = await server.lost
        await client.lost
    finally:
        await port.stopListening()
    assert server.received == b"request"
    assert client.received == b"hello"
    assert isinstance(server_reason, error.ConnectionDone)


@implementer(IPushProducer)
class Blob(Protocol):
    """
    Not half-closeable: answers the request with ``blob`` in one write,
    with itself as the producer the transport pauses and resumes, and then
    waits, never closing.
    """

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.paused = False
        self.lost: Deferred[BaseException] = Deferred()

    def connectionMade(self) -> None:
        self.transport.registerProducer(self, True)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(self.blob)  # type: ignore[union-attr]

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        pass

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None
        self.lost.callback(reason.value)


@pytest_twisted.ensureDeferred
async def test_a_close_notify_held_by_a_full_buffer_ends_once_it_drains(
    pems: dict[str, str], socket_path: str
) -> None:
    # The answer fills the buffer, which pauses the server's producer:
    # the client's close_notify waits, and ends the connection once the
    # buffer has drained and the server is idle.
    blob = payload(4 * MiB)
    server = Blob(blob)
    client = Recorder()
    client.on_read_end = close_when_read_ends
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Factory.forProtocol(lambda: server),
        client,
        pems,
    )
    try:
        client.transport.write(b"request")  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        server_reason = await server.lost
        reason = await client.lost
    finally:
        await port.stopListening()
    assert digest(client.received) == digest(blob)
    assert isinstance(server_reason, error.ConnectionDone)
    assert isinstance(reason, error.ConnectionDone)


class AnswerWhilePaused(Protocol):
    """
    Not half-closeable: on the request, pauses reading, lets a few reactor
    turns go by without writing (waiting for its answer), then writes
    ``answer`` and resumes reading. A plain socket's end of file is not
    read while reading is paused; the peer's close_notify must wait too.
    """

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.lost: Deferred[BaseException] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.transport.pauseProducing()  # type: ignore[union-attr]
        ensureDeferred(self._answer_later())

    async def _answer_later(self) -> None:
        for _ in range(5):
            await deferLater(reactor, 0)  # a reactor turn without writing
        self.transport.write(self.answer)  # type: ignore[union-attr]
        self.transport.resumeProducing()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None
        self.lost.callback(reason.value)


@pytest_twisted.ensureDeferred
async def test_a_peer_s_close_notify_waits_while_reading_is_paused(
    pems: dict[str, str], socket_path: str
) -> None:
    answer = payload(MiB)
    server = AnswerWhilePaused(answer)
    client = Recorder()
    port = await connected(
        socket_path,
        server_tls_options(pems["server"]),
        Factory.forProtocol(lambda: server),
        client,
        pems,
    )
    try:
        client.transport.write(b"request")  # type: ignore[union-attr]
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        server_reason = await server.lost
        reason = await client.lost
    finally:
        await port.stopListening()
    assert digest(client.received) == digest(answer)
    assert isinstance(server_reason, error.ConnectionDone)
    assert isinstance(reason, error.ConnectionDone)


# Kernel tier: the same over AF_VSOCK (CID 1) in the guest, from the
# endpoint strings, on both engines.


@pytest.mark.kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_16_mib_through_a_tls_half_close_over_vsock(
    pems: dict[str, str], io: str
) -> None:
    port_number = free_vsock_port()
    server = serverFromString(
        reactor, f"vsock:{port_number}:io={io}:privateKey={pems['server']}"
    )
    client = clientFromString(
        reactor,
        f"vsock:local:{port_number}:io={io}:tls=yes:hostname=web.example"
        f":trustRoots={pems['server-ca']}",
    )
    request = payload(16 * MiB)
    port = await server.listen(Factory.forProtocol(DigestAfterHalfClose))
    try:
        sender = SendAndCollect(request)
        await client.connect(Factory.forProtocol(lambda: sender))
        arrived = await sender.finished
    finally:
        await port.stopListening()
    answer = f"{digest(request)} {len(request)}".encode()
    assert arrived == (digest(answer), len(answer))


@pytest.mark.kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
def test_hvsock_cat_gets_twistd_web_s_answer_through_tls(
    tmp_path: Path, io: str
) -> None:
    # The TLS pair the docs show, with the request on cat's stdin: its end
    # half-closes (close_notify) right after the request. A small page and
    # one that takes twistd many reactor turns to send.
    identity, root = write_self_signed(tmp_path, "guest", "guest.example")
    www = tmp_path / "www"
    www.mkdir()
    pages = {"/": b"<p>hello through TLS</p>\n", "/big": payload(MiB)}
    (www / "index.html").write_bytes(pages["/"])
    (www / "big").write_bytes(pages["/big"])
    port = free_vsock_port()
    server = start_twistd_web(f"vsock:{port}:io={io}:privateKey={identity}", www)
    try:
        wait_until_serving_vsock(server, port)
        results = {
            path: hvsock(
                "cat",
                f"vsock:1:{port}:io={io}:tls=yes:hostname=guest.example"
                f":trustRoots={root}",
                input=f"GET {path} HTTP/1.0\r\n\r\n".encode(),
            )
            for path in pages
        }
    finally:
        server.terminate()
        server.wait(timeout=60)
    for path, result in results.items():
        assert result.returncode == 0, result.stderr
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK\r\n"), result.stdout[:200]
        assert digest(body) == digest(pages[path]), (path, len(body))
