"""
The workloads for the two Twisted contenders, the reactor-native engine and
the thread-backed one, both ends in one process on one reactor, reached
through the public endpoint strings.

Each workload returns a dict of measurements; its clock starts once the
listening port is up.
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from .memory import resident_bytes
from .places import Place
from .sizes import Sizes
from .twisted_peers import ChunkWriter


class _Sink(Protocol):
    """Counts what arrives; fires ``done`` once ``expected`` bytes have."""

    def __init__(self, expected: int, done: defer.Deferred[float]) -> None:
        self._left = expected
        self._done = done

    def dataReceived(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left <= 0 and not self._done.called:
            self._done.callback(time.perf_counter())


class _Echo(Protocol):
    def connectionMade(self) -> None:
        counter = getattr(self.factory, "counter", None)
        if counter is not None:
            counter.made()

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


class _Client(Protocol):
    """
    A client that waits for ``expected`` bytes (firing ``received``) and
    tells ``lost`` when its connection is gone.
    """

    def __init__(self) -> None:
        self.expected = 0
        self.got = 0
        self.received: defer.Deferred[None] = defer.Deferred()
        self.lost: defer.Deferred[None] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.got += len(data)
        if self.got >= self.expected and not self.received.called:
            self.received.callback(None)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


class _PingClient(_Client):
    """Sends ``message``, waits for it to come back, ``count`` times."""

    def __init__(self, message: bytes, count: int) -> None:
        super().__init__()
        self._message = message
        self._left = count
        self._buffered = 0

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
        elif not self.received.called:
            self.received.callback(None)


class _Counter:
    """Fires ``all_made`` once ``expected`` server-side connections are up."""

    def __init__(self, expected: int) -> None:
        self._left = expected
        self.all_made: defer.Deferred[None] = defer.Deferred()

    def made(self) -> None:
        self._left -= 1
        if self._left == 0:
            self.all_made.callback(None)


class _Factory(Factory):
    """Builds protocols with ``build()``; quiet, since a run opens thousands."""

    noisy = False

    def __init__(self, build: Any, counter: _Counter | None = None) -> None:
        self._build = build
        self.counter = counter

    def buildProtocol(self, addr: Any) -> Protocol:
        protocol: Protocol = self._build()
        protocol.factory = self
        return protocol


async def bulk(
    reactor: Any, place: Place, threads: bool, sizes: Sizes
) -> dict[str, float]:
    """``bulk_bytes`` one way in ``bulk_write``-byte writes; MB/s."""
    done: defer.Deferred[float] = defer.Deferred()
    port = await place.server_endpoint(reactor, threads).listen(
        _Factory(lambda: _Sink(sizes.bulk_bytes, done))
    )
    try:
        client = await place.client_endpoint(reactor, port, threads).connect(
            _Factory(_Client)
        )
        start = time.perf_counter()
        count = sizes.bulk_bytes // sizes.bulk_write
        writer = ChunkWriter(
            client.transport,
            b"x" * sizes.bulk_write,
            count,
            client.transport.loseConnection,
        )
        client.transport.registerProducer(writer, True)
        writer.resumeProducing()
        end = await done
        await client.lost
    finally:
        await port.stopListening()
    return {"MB/s": sizes.bulk_bytes / (end - start) / 1e6, "seconds": end - start}


async def ping_pong(
    reactor: Any, place: Place, threads: bool, sizes: Sizes
) -> dict[str, float]:
    """``round_trips`` echoes of a ``message``-byte message; round trips/s."""
    port = await place.server_endpoint(reactor, threads).listen(_Factory(_Echo))
    try:
        client = await place.client_endpoint(reactor, port, threads).connect(
            _Factory(lambda: _PingClient(b"p" * sizes.message, sizes.round_trips))
        )
        start = time.perf_counter()
        client.start()
        await client.received
        elapsed = time.perf_counter() - start
        client.transport.loseConnection()
        await client.lost
    finally:
        await port.stopListening()
    return {"round trips/s": sizes.round_trips / elapsed, "seconds": elapsed}


async def connect_close(
    reactor: Any, place: Place, threads: bool, sizes: Sizes
) -> dict[str, float]:
    """``connections`` sequential connects, each closed once up; connections/s."""
    port = await place.server_endpoint(reactor, threads).listen(_Factory(Protocol))
    try:
        endpoint = place.client_endpoint(reactor, port, threads)
        factory = _Factory(_Client)
        start = time.perf_counter()
        for _ in range(sizes.connections):
            client = await endpoint.connect(factory)
            client.transport.loseConnection()
            await client.lost
        elapsed = time.perf_counter() - start
    finally:
        await port.stopListening()
    return {"connections/s": sizes.connections / elapsed, "seconds": elapsed}


async def concurrent_echo(
    reactor: Any, place: Place, threads: bool, sizes: Sizes
) -> dict[str, float]:
    """
    Open many connections at once, then have each echo ``echo_bytes``; the
    wall time for all of it, and resident memory per open idle connection
    (both its ends, in this process).
    """
    count = sizes.concurrent_threads if threads else sizes.concurrent_native
    counter = _Counter(count)
    port = await place.server_endpoint(reactor, threads).listen(
        _Factory(_Echo, counter)
    )
    try:
        endpoint = place.client_endpoint(reactor, port, threads)
        factory = _Factory(_Client)
        # A bounded number of connects in flight, as a listen backlog allows.
        limit = defer.DeferredSemaphore(64)
        before = resident_bytes()
        start = time.perf_counter()
        clients = await defer.gatherResults(
            [limit.run(endpoint.connect, factory) for _ in range(count)],
            consumeErrors=True,
        )
        await counter.all_made
        idle = resident_bytes()
        payload = b"e" * sizes.echo_bytes
        for client in clients:
            client.expected = sizes.echo_bytes
            client.transport.write(payload)
        await defer.gatherResults([client.received for client in clients])
        for client in clients:
            client.transport.loseConnection()
        await defer.gatherResults([client.lost for client in clients])
        elapsed = time.perf_counter() - start
    finally:
        await port.stopListening()
    return {
        "connections": count,
        "seconds": elapsed,
        "echoes/s": count / elapsed,
        "KiB/connection": (idle - before) / count / 1024,
    }


WORKLOADS = {
    "bulk": bulk,
    "ping-pong": ping_pong,
    "connect-close": connect_close,
    "concurrent-echo": concurrent_echo,
}
