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

from .test_streams import Family, family  # noqa: F401  (the fixture)

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
    family: Family,  # noqa: F811
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
