"""
The threads engine's pool of I/O threads: connections reuse the threads of
connections that ended, and no thread outlives ``stop``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock._engines.threads.plumbing import ThreadPool

from ...support.families import Family
from ...support.leaks import busy_threads, counts_settle, open_fds

CONNECTIONS = 20


class ClosesAtOnce(Protocol):
    def connectionMade(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]


class WaitsForTheEnd(Protocol):
    def __init__(self) -> None:
        self.ended: Deferred[None] = Deferred()

    def connectionLost(self, reason: Any = None) -> None:
        self.ended.callback(None)


@pytest_twisted.ensureDeferred
async def test_sequential_connections_reuse_the_threads_of_ended_ones(
    family: Family,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: list[str] = []
    start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        starts.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    port = await family.server().listen(Factory.forProtocol(ClosesAtOnce))
    try:
        for _ in range(CONNECTIONS):
            client = WaitsForTheEnd()
            build = Factory.forProtocol(lambda client=client: client)
            await family.client(port).connect(build)
            await client.ended
    finally:
        await port.stopListening()
    # Without the pool each connection starts five threads (the client's
    # connect, reader and writer, the server's reader and writer).
    io_starts = [name for name in starts if "accept" not in name]
    assert len(io_starts) <= CONNECTIONS, io_starts


def test_stop_ends_every_thread_and_later_work_runs_unpooled() -> None:
    pool = ThreadPool()
    ran: list[threading.Thread] = []
    release = threading.Event()

    def work() -> None:
        ran.append(threading.current_thread())
        release.wait(30)

    for _ in range(3):
        pool.run(work, "test work")
    release.set()
    pool.stop(time.monotonic() + 30)
    assert len(ran) == 3
    assert not any(thread.is_alive() for thread in ran)
    done = threading.Event()
    pool.run(done.set, "after stop")
    assert done.wait(30)


class EchoesEach(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


class AsksOnce(Protocol):
    def __init__(self) -> None:
        self.answered: Deferred[bytes] = Deferred()
        self.lost: Deferred[None] = Deferred()

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)

    def connectionMade(self) -> None:
        self.transport.write(b"ping")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        if not self.answered.called:
            self.answered.callback(data)


@pytest_twisted.ensureDeferred
async def test_request_reply_connections_take_one_thread_per_end(
    family: Family,
) -> None:
    # Small writes go straight to the socket where the family can send
    # without blocking, so the writer thread never starts; AF_HYPERV cannot,
    # and each end's first write starts its writer.
    threads_per_end = 2 if family.name == "hyperv" else 1
    before, fds_before = busy_threads(), open_fds()
    port = await family.server().listen(Factory.forProtocol(EchoesEach))
    clients = []
    try:
        for _ in range(CONNECTIONS):
            client = AsksOnce()
            await family.client(port).connect(Factory.forProtocol(lambda c=client: c))
            assert await client.answered == b"ping"
            clients.append(client)
        # The accept thread, and each end's I/O threads; connect threads
        # have gone back to the pool.
        expected = 1 + CONNECTIONS * 2 * threads_per_end
        await counts_settle(before + expected, open_fds())
        assert busy_threads() - before == expected
    finally:
        for client in clients:
            client.transport.loseConnection()  # type: ignore[union-attr]
            await client.lost
        await port.stopListening()
        # The next test counts from a baseline with none of these threads.
        await counts_settle(before, fds_before)
