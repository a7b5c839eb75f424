"""
The thread-backed engine moving real data: bulk transfers, half-close,
backpressure, aborts, many connections, connect failures, and no thread or
descriptor left behind. Each test runs over Unix sockets and over AF_HYPERV
(Windows' socket layer played by tests/support/fake_hyperv.py) on the host, and
over AF_VSOCK (CID 1) in the guest; the bulk, half-close, backpressure and
TLS tests (``either_engine``) run on the reactor-native engine too, so both
engines meet the very same checks.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IPullProducer, IPushProducer
from twisted.internet.main import CONNECTION_DONE
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_hvsock._engines.threads.client import ThreadedClient
from twisted_hvsock.threaded_unix import (
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
)

from ..support.families import Family
from ..support.leaks import busy_threads, counts_settle, fd_targets, open_fds
from ..support.streams import (
    ChunkProducer,
    DigestAfterHalfClose,
    Echo,
    SendAndCollect,
    digest,
    exchange_both_ways,
    factory_for,
    payload,
)
from ..support.tls import self_signed

MiB = 1024 * 1024


@pytest_twisted.ensureDeferred
async def test_addresses_are_the_family_s_own(family: Family) -> None:
    port = await family.server().listen(factory_for(Protocol))
    try:
        client = await family.client(port).connect(Factory.forProtocol(Protocol))
        assert isinstance(client.transport.getPeer(), family.address_type)
        assert isinstance(client.transport.getHost(), family.address_type)
        assert isinstance(port.getHost(), family.address_type)
        lost: Deferred[None] = Deferred()
        client.connectionLost = lambda reason: lost.callback(None)
        client.transport.loseConnection()
        await lost
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_64_mib_each_way_arrive_intact(either_engine: Family) -> None:
    to_server, to_client = payload(64 * MiB), payload(64 * MiB)
    server_got, client_got = await exchange_both_ways(
        either_engine, to_server, to_client
    )
    assert server_got == (digest(to_server), len(to_server))
    assert client_got == (digest(to_client), len(to_client))


@pytest_twisted.ensureDeferred
async def test_half_close_delivers_all_data_and_the_peer_can_answer(
    either_engine: Family,
) -> None:
    data = payload(8 * MiB)
    port = await either_engine.server().listen(factory_for(DigestAfterHalfClose))
    try:
        client = await either_engine.client(port).connect(
            factory_for(lambda: SendAndCollect(data))
        )
        answer: Deferred[bytes] = Deferred()
        client.dataReceived = answer.callback
        reply = await answer
    finally:
        await port.stopListening()
    assert reply == f"{digest(data)} {len(data)}".encode()


@pytest_twisted.ensureDeferred
async def test_slow_reader_pauses_a_streaming_producer(either_engine: Family) -> None:
    total = 64 * MiB
    producers: list[ChunkProducer] = []
    first_pause: Deferred[int] = Deferred()

    class Streamer(Protocol):
        def connectionMade(self) -> None:
            producer = ChunkProducer(self.transport, total)
            producers.append(producer)
            producer.first_pause.chainDeferred(first_pause)
            producer.start()

    port = await either_engine.server().listen(Factory.forProtocol(Streamer))
    received = 0
    ahead = 0
    done: Deferred[None] = Deferred()
    delivered_while_paused: list[int] = []

    class SlowReader(Protocol):
        paused = False

        def connectionMade(self) -> None:
            self.paused = True
            self.transport.pauseProducing()  # type: ignore[union-attr]

        def dataReceived(self, data: bytes) -> None:
            nonlocal received, ahead
            if self.paused:
                delivered_while_paused.append(len(data))
            received += len(data)
            ahead = max(ahead, producers[0].sent - received)

        def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
            done.callback(None)

    try:
        client = await either_engine.client(port).connect(
            Factory.forProtocol(SlowReader)
        )
        sent_when_paused = await first_pause
        client.paused = False
        client.transport.resumeProducing()
        await done
    finally:
        await port.stopListening()
    assert delivered_while_paused == []
    assert received == total
    # The producer stopped long before it could buffer the whole stream.
    assert sent_when_paused < 16 * MiB
    assert ahead < 16 * MiB


@pytest_twisted.ensureDeferred
async def test_abort_drops_unsent_data(family: Family) -> None:
    total = 32 * MiB
    reasons: dict[str, Failure] = {}
    both_lost = [Deferred[None](), Deferred[None]()]
    received = 0

    class WriteThenAbort(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(payload(total))  # type: ignore[union-attr]
            self.transport.abortConnection()  # type: ignore[union-attr]
            # Written after the abort: must never be sent.
            self.transport.write(b"late")  # type: ignore[union-attr]

        def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
            reasons["server"] = reason
            both_lost[0].callback(None)

    class Counter(Protocol):
        def dataReceived(self, data: bytes) -> None:
            nonlocal received
            received += len(data)

        def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
            reasons["client"] = reason
            both_lost[1].callback(None)

    port = await family.server().listen(Factory.forProtocol(WriteThenAbort))
    try:
        await family.client(port).connect(Factory.forProtocol(Counter))
        await gatherResults(both_lost)
    finally:
        await port.stopListening()
    assert reasons["server"].check(error.ConnectionAborted)
    assert reasons["client"].check(error.ConnectionDone, error.ConnectionLost)
    assert received < total


@pytest.mark.parametrize("connections", [300])
@pytest_twisted.ensureDeferred
async def test_many_concurrent_echo_connections_complete(
    family: Family, connections: int
) -> None:
    port = await family.server().listen(Factory.forProtocol(Echo))
    data = [payload(16 * 1024) for _ in range(connections)]
    try:
        clients = await gatherResults(
            [
                family.client(port, timeout=120).connect(
                    factory_for(lambda chunk=chunk: SendAndCollect(chunk))
                )
                for chunk in data
            ]
        )
        results = await gatherResults([client.finished for client in clients])
    finally:
        await port.stopListening()
    assert results == [(digest(chunk), len(chunk)) for chunk in data]


class Closes(Protocol):
    """Closes in one of the ways a connection can end, then reports."""

    def __init__(self, how: str, lost: Deferred[type]) -> None:
        self.how = how
        self.lost = lost

    def connectionMade(self) -> None:
        if self.how == "normally":
            self.transport.write(b"bye")  # type: ignore[union-attr]
            self.transport.loseConnection()  # type: ignore[union-attr]
        elif self.how == "by abort":
            self.transport.write(b"x" * 100_000)  # type: ignore[union-attr]
            self.transport.abortConnection()  # type: ignore[union-attr]
        else:  # peer reset: keep writing until the peer drops the connection
            self.transport.write(b"x" * (4 * MiB))  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost.callback(reason.type)


class AbortsOnFirstData(Protocol):
    """Aborts as soon as anything arrives, leaving the rest unread."""

    def __init__(self, lost: Deferred[type]) -> None:
        self.lost = lost

    def dataReceived(self, data: bytes) -> None:
        self.transport.abortConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost.callback(reason.type)


class Lingers(Protocol):
    """Waits for the peer to end the connection."""

    def __init__(self, lost: Deferred[type]) -> None:
        self.lost = lost

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost.callback(reason.type)


CONNECTIONS = 200


@pytest.mark.parametrize("how", ["normally", "by abort", "by peer reset"])
@pytest_twisted.ensureDeferred
async def test_closed_connections_leave_no_threads_or_descriptors(
    family: Family, how: str
) -> None:
    threads, fds = busy_threads(), open_fds()
    before = fd_targets()
    server_lost: list[Deferred[type]] = []
    # Counted as each server connection ends, not read off a list when the
    # last client connect returns: the accept thread may not have handed
    # every server side to the reactor by then.
    all_servers_lost: Deferred[None] = Deferred()

    def one_more_lost(reason: type) -> type:
        if sum(lost.called for lost in server_lost) == CONNECTIONS:
            all_servers_lost.callback(None)
        return reason

    def server_protocol() -> Protocol:
        lost: Deferred[type] = Deferred()
        server_lost.append(lost)
        lost.addCallback(one_more_lost)
        if how == "by peer reset":
            return AbortsOnFirstData(lost)
        return Lingers(lost)

    port = await family.server().listen(factory_for(server_protocol))
    client_lost: list[Deferred[type]] = []
    try:
        for _ in range(CONNECTIONS // 4):
            batch = []
            for _ in range(4):
                lost: Deferred[type] = Deferred()
                client_lost.append(lost)
                batch.append(
                    family.client(port).connect(
                        factory_for(lambda lost=lost: Closes(how, lost))
                    )
                )
            await gatherResults(batch)
        await gatherResults(client_lost)
        await all_servers_lost
    finally:
        await port.stopListening()
    assert len(server_lost) == len(client_lost) == CONNECTIONS
    # Sockets are closed before connectionLost, so the descriptors are back
    # at once; a connection's I/O threads go back to the pool (as idle
    # threads, not counted) a moment after it, so that count may lag briefly.
    await counts_settle(threads, fds)
    assert busy_threads() == threads
    assert open_fds() == fds, (before, fd_targets())


SHUTDOWN_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred, gatherResults
    from twisted.internet.protocol import Factory, Protocol
    sys.path.insert(0, {root!r})
    from tests.support.families import Family

    family = Family({name!r}, object)
    family.install()
    before = (threading.active_count(), len(os.listdir("/proc/self/fd")))
    lost = []
    made = []
    all_made = Deferred()

    class Count(Protocol):
        def connectionMade(self):
            # Something unsent, and a writer blocked on a peer that never reads.
            self.transport.pauseProducing()
            self.transport.write(b"x" * (1 << 20))
            made.append(self)
            if len(made) == 100:
                all_made.callback(None)

        def connectionLost(self, reason):
            lost.append(reason.type.__name__)

    async def main():
        port = await family.server().listen(Factory.forProtocol(Count))
        for _ in range(50):
            family.client(port).connect(Factory.forProtocol(Count))
        await all_made
        print("open", threading.active_count() - before[0], flush=True)
        reactor.stop()

    from twisted.internet.defer import ensureDeferred
    reactor.callWhenRunning(lambda: ensureDeferred(main()).addErrback(print))
    started = time.monotonic()
    reactor.run()
    after = (threading.active_count(), len(os.listdir("/proc/self/fd")))
    print("lost", len(lost), sorted(set(lost)))
    print("leftover", after[0] - before[0], after[1] - before[1])
    """
)


def test_reactor_shutdown_closes_open_connections_without_hanging(
    family: Family,
) -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = SHUTDOWN_SCRIPT.format(root=root, name=family.name)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # 50 connections, both ends in this process, two threads each (a reader,
    # and a writer for the write that cannot be sent at once), plus the
    # accept thread.
    assert lines[0] == "open 201", result.stdout
    assert lines[1] == "lost 100 ['ConnectionLost']", result.stdout
    assert lines[2] == "leftover 0 0", result.stdout
    assert time.monotonic() - started < 120


@pytest_twisted.ensureDeferred
async def test_a_connect_that_never_completes_times_out(
    monkeypatch: pytest.MonkeyPatch, family: Family
) -> None:
    release = threading.Event()
    stalled: list[threading.Thread] = []

    def stall(self: ThreadedClient) -> None:
        stalled.append(threading.current_thread())
        release.wait()

    port = await family.server().listen(Factory.forProtocol(Protocol))
    monkeypatch.setattr(ThreadedClient, "_connect", stall)
    started = time.monotonic()
    try:
        with pytest.raises(error.TimeoutError):
            await family.client(port, timeout=0.5).connect(
                Factory.forProtocol(Protocol)
            )
        assert time.monotonic() - started >= 0.5
    finally:
        release.set()
        for thread in stalled:
            thread.join(30)
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_unix_connect_blocked_on_a_full_backlog_times_out() -> None:
    name = b"\0hvsock-test-" + uuid.uuid4().hex.encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(name)
        listener.listen(0)
        endpoint = ThreadedUNIXClientEndpoint(reactor, name, timeout=0.5)
        # The first connection fills the backlog; nothing accepts it.
        first = await endpoint.connect(Factory.forProtocol(Protocol))
        started = time.monotonic()
        with pytest.raises(error.TimeoutError):
            await endpoint.connect(Factory.forProtocol(Protocol))
        assert time.monotonic() - started >= 0.5
        first.transport.abortConnection()


@pytest_twisted.ensureDeferred
async def test_connecting_where_nothing_listens_is_refused(family: Family) -> None:
    port = await family.server().listen(Factory.forProtocol(Protocol))
    endpoint = family.client(port)
    await port.stopListening()
    with pytest.raises(error.ConnectionRefusedError):
        await endpoint.connect(Factory.forProtocol(Protocol))


@pytest.fixture
def short_tmp() -> Iterator[str]:
    """A directory whose socket paths fit in sockaddr_un."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hv") as path:
        yield path


@pytest_twisted.ensureDeferred
async def test_a_unix_port_removes_its_socket_file_when_it_stops(
    short_tmp: str,
) -> None:
    path = os.path.join(short_tmp, "s")
    port = await ThreadedUNIXServerEndpoint(reactor, path).listen(Factory())
    assert port.getHost() == UNIXAddress(path)
    assert os.path.exists(path)
    await port.stopListening()
    assert not os.path.exists(path)


@pytest_twisted.ensureDeferred
async def test_listening_where_a_unix_socket_already_listens_fails() -> None:
    # vsock port clashes are covered by the endpoint tests.
    port = await Family("unix", UNIXAddress).server().listen(Factory())
    try:
        with pytest.raises(error.CannotListenError):
            await ThreadedUNIXServerEndpoint(reactor, port.getHost().name).listen(
                Factory()
            )
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_start_tls_completes_an_exchange(either_engine: Family) -> None:
    from twisted.internet import ssl

    server_certificate, trusted = self_signed("guest.example")
    server_options = server_certificate.options()
    client_options = ssl.optionsForClientTLS("guest.example", trustRoot=trusted)

    class TLSEcho(Protocol):
        def connectionMade(self) -> None:
            self.transport.startTLS(server_options)  # type: ignore[union-attr]

        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data.upper())  # type: ignore[union-attr]

    port = await either_engine.server().listen(Factory.forProtocol(TLSEcho))
    try:
        client = await either_engine.client(port).connect(Factory.forProtocol(Protocol))
        answer: Deferred[bytes] = Deferred()
        client.dataReceived = answer.callback
        client.transport.startTLS(client_options)
        client.transport.write(b"hello over tls")
        reply = await answer
        peer_certificate = client.transport.getPeerCertificate().to_cryptography()
        lost: Deferred[None] = Deferred()
        client.connectionLost = lambda reason: lost.callback(None)
        client.transport.loseConnection()
        await lost
    finally:
        await port.stopListening()
    assert reply == b"HELLO OVER TLS"
    assert peer_certificate.subject.rfc4514_string() == "CN=guest.example"


@pytest_twisted.ensureDeferred
async def test_start_tls_carries_sequences_and_producers_through_tls(
    either_engine: Family,
) -> None:
    # A producer registered when startTLS comes stays registered, behind TLS;
    # writeSequence and a pull producer's writes reach the peer decrypted,
    # and loseConnection ends the TLS session before the connection: the
    # server sees close_notify, not a truncated stream. (The client's own
    # reason depends on which end's close the kernel reports first.)
    from twisted.internet import ssl

    server_certificate, trusted = self_signed("guest.example")
    server_options = server_certificate.options()
    client_options = ssl.optionsForClientTLS("guest.example", trustRoot=trusted)
    received: list[bytes] = []
    server_lost: Deferred[None] = Deferred()
    server_reasons: list[Failure] = []

    class Collect(Protocol):
        def connectionMade(self) -> None:
            self.transport.startTLS(server_options)  # type: ignore[union-attr]

        def dataReceived(self, data: bytes) -> None:
            received.append(data)

        def connectionLost(self, reason: Failure = CONNECTION_DONE) -> None:
            server_reasons.append(reason)
            server_lost.callback(None)

    @implementer(IPushProducer)
    class Idle:
        def pauseProducing(self) -> None:
            pass

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            pass

    @implementer(IPullProducer)
    class Words:
        def __init__(self, transport: Any) -> None:
            self.transport = transport
            self.words = [b"one", b"two", b"three"]

        def resumeProducing(self) -> None:
            if self.words:
                self.transport.writeSequence([self.words.pop(0), b"|"])
            else:
                self.transport.unregisterProducer()
                self.transport.loseConnection()

        def stopProducing(self) -> None:
            pass

    port = await either_engine.server().listen(Factory.forProtocol(Collect))
    try:
        client = await either_engine.client(port).connect(Factory.forProtocol(Protocol))
        client_lost: Deferred[None] = Deferred()
        client.connectionLost = lambda reason: client_lost.callback(None)  # type: ignore[method-assign]
        transport: Any = client.transport
        transport.registerProducer(Idle(), True)
        transport.startTLS(client_options)
        transport.unregisterProducer()
        transport.registerProducer(Words(transport), False)
        await client_lost
        await server_lost
    finally:
        await port.stopListening()
    assert b"".join(received) == b"one|two|three|"
    assert server_reasons[0].check(error.ConnectionDone)
