"""
The two Twisted contenders' ends, the reactor-native engine (``io=reactor``)
and the thread-backed one (``io=threads``), each end run in a process of its
own on its own reactor, reached through the public endpoint strings. The
exchange is :mod:`tests.bench.exchange`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import react
from twisted.python.failure import Failure
from zope.interface import implementer

from .exchange import (
    ACK,
    CONNECTS_IN_FLIGHT,
    GO,
    CountError,
    ack,
    acknowledged,
    check_counts,
    concurrent_count,
)
from .memory import resident_bytes, thread_count
from .places import Place
from .raw_peers import ClientFunction, Ready, Report, ServerFunction
from .sizes import Sizes

#: The Twisted contenders, and whether each uses the thread-backed engine.
ENGINES = {"native": False, "threads": True}


def run_on_reactor(main: Callable[[Any], Coroutine[Any, Any, Report]]) -> Report:
    """Run ``main(reactor)`` on a reactor of this process's own; its report."""
    results: list[Report] = []

    async def run(reactor: Any) -> None:
        results.append(await main(reactor))

    try:
        react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    except SystemExit as e:
        # react() always exits; a failure has been logged to stderr by now.
        if e.code:
            raise
    return results[0]


class _Factory(Factory):
    """Builds protocols with ``build()``; quiet, since a run opens thousands."""

    noisy = False

    def __init__(self, build: Callable[[], Protocol]) -> None:
        self._build = build

    def buildProtocol(self, addr: Any) -> Protocol:
        protocol = self._build()
        protocol.factory = self
        return protocol


# Servers.


class _Tally:
    """What a server counted; ``done`` once ``expected`` connections have closed."""

    def __init__(self, expected: int) -> None:
        self.connections = 0
        self.bytes = 0
        self.open: list[Protocol] = []
        self._left = expected
        self.all_open: defer.Deferred[None] = defer.Deferred()
        self.done: defer.Deferred[None] = defer.Deferred()
        self._expected = expected

    def made(self, protocol: Protocol) -> None:
        self.connections += 1
        self.open.append(protocol)
        if self.connections == self._expected:
            self.all_open.callback(None)

    def lost(self) -> None:
        self._left -= 1
        if self._left == 0:
            self.done.callback(None)

    def report(self) -> Report:
        return {"connections": self.connections, "bytes": self.bytes}


class _Counted(Protocol):
    def __init__(self, tally: _Tally) -> None:
        self.tally = tally

    def connectionMade(self) -> None:
        self.tally.made(self)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.tally.lost()


@implementer(IHalfCloseableProtocol)
class _Sink(_Counted):
    """Counts to end of file, then acknowledges the count."""

    def dataReceived(self, data: bytes) -> None:
        self.tally.bytes += len(data)

    def readConnectionLost(self) -> None:
        self.transport.write(ack(self.tally.bytes))  # type: ignore[union-attr]
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass


class _Echo(_Counted):
    def dataReceived(self, data: bytes) -> None:
        self.tally.bytes += len(data)
        self.transport.write(data)  # type: ignore[union-attr]


class _CloseAtOnce(_Counted):
    def connectionMade(self) -> None:
        super().connectionMade()
        self.transport.loseConnection()  # type: ignore[union-attr]


def _server(
    protocol: type[_Counted], expected: Callable[[Sizes, str], int]
) -> ServerFunction:
    def serve(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
        async def main(reactor: Any) -> Report:
            tally = _Tally(expected(sizes, contender))
            endpoint = place.server_endpoint(reactor, ENGINES[contender])
            port = await endpoint.listen(_Factory(lambda: protocol(tally)))
            try:
                ready(place.port_text(port))
                await tally.done
            finally:
                await port.stopListening()
            return tally.report()

        return run_on_reactor(main)

    return serve


def serve_concurrent_echo(
    place: Place, sizes: Sizes, contender: str, ready: Ready
) -> Report:
    """Holds every connection open and idle, measures itself, then echoes."""

    async def main(reactor: Any) -> Report:
        tally = _Tally(concurrent_count(contender, sizes))
        endpoint = place.server_endpoint(reactor, ENGINES[contender])
        port = await endpoint.listen(_Factory(lambda: _Echo(tally)))
        try:
            before = {"rss_before": resident_bytes(), "threads_before": thread_count()}
            ready(place.port_text(port))
            await tally.all_open
            idle = {"rss_idle": resident_bytes(), "threads_idle": thread_count()}
            for protocol in tally.open:
                protocol.transport.write(GO)  # type: ignore[union-attr]
            await tally.done
        finally:
            await port.stopListening()
        return {**tally.report(), **before, **idle}

    return run_on_reactor(main)


# Clients.


class _Client(Protocol):
    """
    Waits for ``expected`` bytes (firing ``received`` with them) and tells
    ``lost`` when its connection is gone.
    """

    def __init__(self, expected: int = 0) -> None:
        self.expected = expected
        self._data: list[bytes] = []
        self._got = 0
        self.received: defer.Deferred[bytes] = defer.Deferred()
        self.lost: defer.Deferred[None] = defer.Deferred()

    def expect(self, size: int) -> defer.Deferred[bytes]:
        """Fire with the next ``size`` bytes to arrive (whole)."""
        self.expected = size
        self._data, self._got = [], 0
        self.received = defer.Deferred()
        return self.received

    def dataReceived(self, data: bytes) -> None:
        self._data.append(data)
        self._got += len(data)
        if self.expected and self._got >= self.expected:
            self.expected = 0
            self.received.callback(b"".join(self._data))

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.expected and not self.received.called:
            left = self.expected - self._got
            self.received.errback(CountError(f"the peer closed {left} bytes early"))
        self.lost.callback(None)


@implementer(IPushProducer)
class ChunkWriter:
    """
    Writes ``count`` copies of ``chunk`` as fast as the transport takes
    them, then calls ``finish`` (shut the writing side down, or close).
    """

    def __init__(
        self, transport: Any, chunk: bytes, count: int, finish: Callable[[], None]
    ) -> None:
        self._transport = transport
        self._chunk = chunk
        self._left = count
        self._finish = finish
        self._paused = False

    def resumeProducing(self) -> None:
        self._paused = False
        while self._left and not self._paused:
            self._left -= 1
            self._transport.write(self._chunk)
        if not self._left and not self._paused:
            self._transport.unregisterProducer()
            self._finish()

    def pauseProducing(self) -> None:
        self._paused = True

    def stopProducing(self) -> None:
        self._left = 0


@implementer(IHalfCloseableProtocol)
class _BulkClient(_Client):
    def readConnectionLost(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass


def _client(
    run: Callable[[Any, Any, Sizes, str], Coroutine[Any, Any, Report]],
) -> ClientFunction:
    def client(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
        async def main(reactor: Any) -> Report:
            endpoint = place.client_endpoint_to(reactor, address, ENGINES[contender])
            return await run(reactor, endpoint, sizes, contender)

        return run_on_reactor(main)

    return client


async def _bulk(reactor: Any, endpoint: Any, sizes: Sizes, contender: str) -> Report:
    client = await endpoint.connect(_Factory(_BulkClient))
    answer = client.expect(ACK.size)
    start = time.perf_counter()
    count = sizes.bulk_bytes // sizes.bulk_write
    writer = ChunkWriter(
        client.transport,
        b"x" * sizes.bulk_write,
        count,
        client.transport.loseWriteConnection,
    )
    client.transport.registerProducer(writer, True)
    writer.resumeProducing()
    got = await answer
    elapsed = time.perf_counter() - start
    client.transport.loseConnection()
    await client.lost
    check_counts("bytes acknowledged", acknowledged(got), sizes.bulk_bytes)
    return {"seconds": elapsed}


class _PingClient(_Client):
    """Sends ``message``, waits for it to come back, ``count`` times."""

    def __init__(self, message: bytes, count: int) -> None:
        super().__init__()
        self._message = message
        self._left = count
        self._buffered = 0
        self.finished: defer.Deferred[None] = defer.Deferred()

    def start(self) -> None:
        self.transport.write(self._message)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self._buffered += len(data)
        if self._buffered < len(self._message):
            return
        self._buffered -= len(self._message)
        self._left -= 1
        if self._left:
            self.transport.write(self._message)  # type: ignore[union-attr]
        elif not self.finished.called:
            check_counts("bytes echoed past the last message", self._buffered, 0)
            self.finished.callback(None)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.finished.called:
            self.finished.errback(CountError(f"closed {self._left} echoes early"))
        super().connectionLost(reason)


async def _ping_pong(
    reactor: Any, endpoint: Any, sizes: Sizes, contender: str
) -> Report:
    client = await endpoint.connect(
        _Factory(lambda: _PingClient(b"p" * sizes.message, sizes.round_trips))
    )
    start = time.perf_counter()
    client.start()
    await client.finished
    elapsed = time.perf_counter() - start
    client.transport.loseConnection()
    await client.lost
    return {"seconds": elapsed}


async def _connect_close(
    reactor: Any, endpoint: Any, sizes: Sizes, contender: str
) -> Report:
    factory = _Factory(_Client)
    start = time.perf_counter()
    for _ in range(sizes.connections):
        client = await endpoint.connect(factory)
        # The server's close ends the connection: Twisted closes on end of file.
        await client.lost
        check_counts("bytes before the server's close", client._got, 0)
    return {"seconds": time.perf_counter() - start}


async def _concurrent_echo(
    reactor: Any, endpoint: Any, sizes: Sizes, contender: str
) -> Report:
    count = concurrent_count(contender, sizes)
    factory = _Factory(lambda: _Client(len(GO)))
    limit = defer.DeferredSemaphore(CONNECTS_IN_FLIGHT)
    payload = b"e" * sizes.echo_bytes

    async def echo(client: _Client) -> None:
        await client.received
        echoed = client.expect(len(payload))
        client.transport.write(payload)  # type: ignore[union-attr]
        check_counts("bytes echoed", len(await echoed), len(payload))

    start = time.perf_counter()
    clients = await defer.gatherResults(
        [limit.run(endpoint.connect, factory) for _ in range(count)],
        consumeErrors=True,
    )
    await defer.gatherResults(
        [defer.Deferred.fromCoroutine(echo(client)) for client in clients],
        consumeErrors=True,
    )
    elapsed = time.perf_counter() - start
    for client in clients:
        client.transport.loseConnection()
    await defer.gatherResults([client.lost for client in clients])
    return {"seconds": elapsed}


SERVERS: dict[str, ServerFunction] = {
    "bulk": _server(_Sink, lambda sizes, contender: 1),
    "ping-pong": _server(_Echo, lambda sizes, contender: 1),
    "connect-close": _server(_CloseAtOnce, lambda sizes, contender: sizes.connections),
    "concurrent-echo": serve_concurrent_echo,
}
CLIENTS: dict[str, ClientFunction] = {
    "bulk": _client(_bulk),
    "ping-pong": _client(_ping_pong),
    "connect-close": _client(_connect_close),
    "concurrent-echo": _client(_concurrent_echo),
}
