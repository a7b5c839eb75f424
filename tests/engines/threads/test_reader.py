"""
How much a stream connection's reader asks ``recv`` for: a small first
read, since CPython allocates the whole size before ``recv`` blocks (an idle
connection holds it), doubling while reads fill it and back to the first
size once they come back small; and that data still arrives whole and in
order, over real sockets.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from typing import Any, cast

import pytest
import pytest_twisted

from twisted_hvsock._engines.threads.connection_threads import ConnectionThreads
from twisted_hvsock._engines.threads.families import UNIX, SocketFamily
from twisted_hvsock._engines.threads.plumbing import (
    FIRST_RECV_SIZE,
    RECV_SIZE,
    SocketCalls,
    ThreadPool,
)
from twisted_hvsock._engines.threads.reader import EOF, Reader

from ...support.families import Family
from ...support.streams import digest, exchange_both_ways, payload

MiB = 1024 * 1024


class ScriptedSocket:
    """
    Answers each ``recv`` from a script, recording the size asked for: a
    script entry ``None`` fills the buffer, a number gives that many bytes
    (``0``: the end of the stream).
    """

    def __init__(self, script: list[int | None]) -> None:
        self._script = list(script)
        self.asked: list[int] = []

    def recv(self, size: int) -> bytes:
        self.asked.append(size)
        amount = self._script.pop(0)
        return b"x" * (size if amount is None else amount)


class CallingReactor:
    """Runs what a thread hands to the reactor at once, on that thread."""

    def callFromThread(self, method: Any, *args: Any) -> None:
        method(*args)


def sizes_asked(script: list[int | None]) -> list[int]:
    """
    The sizes the reader of a stream connection asks for, reading ``script``
    and then the end of the stream (the last size is the read that gets it).
    """
    skt = ScriptedSocket([*script, 0])
    pool = ThreadPool()
    reactor = CallingReactor()
    threads = ConnectionThreads("UNIX", pool, reactor, ended=lambda: None)
    got: list[str] = []

    def arrived() -> None:
        while (item := reader.take()) is not None:
            got.append(item[0])

    fake = cast(socket.socket, skt)
    reader = Reader(threads, SocketCalls(fake), fake, reactor, arrived, UNIX.receive)
    reader.start()
    pool.stop(time.monotonic() + 30)
    assert got[-1] == EOF
    return skt.asked


def doublings() -> list[int]:
    """The sizes from the first to the most, each twice the one before."""
    sizes = [FIRST_RECV_SIZE]
    while sizes[-1] < RECV_SIZE:
        sizes.append(min(2 * sizes[-1], RECV_SIZE))
    return sizes


def test_the_first_read_is_small_and_each_full_read_doubles_the_next() -> None:
    sizes = doublings()
    assert FIRST_RECV_SIZE < RECV_SIZE
    assert sizes_asked([None] * (len(sizes) + 1)) == [*sizes, RECV_SIZE, RECV_SIZE]


def test_a_read_under_a_quarter_of_its_size_goes_back_to_the_first_size() -> None:
    sizes = doublings()
    script: list[int | None] = [None] * len(sizes)
    # A quiet moment after a bulk transfer, then a full small read.
    script += [RECV_SIZE // 4 - 1, None]
    assert sizes_asked(script) == [
        *sizes,
        RECV_SIZE,
        FIRST_RECV_SIZE,
        2 * FIRST_RECV_SIZE,
    ]


def test_a_read_of_a_quarter_or_more_keeps_the_size() -> None:
    # A socket that holds less than the most one read asks for (AF_UNIX's
    # send buffer) does not shrink a bulk transfer's reads.
    sizes = doublings()
    script: list[int | None] = [None] * len(sizes)
    script += [RECV_SIZE // 4, RECV_SIZE - 1]
    assert sizes_asked(script) == [*sizes, RECV_SIZE, RECV_SIZE, RECV_SIZE]


@pytest_twisted.ensureDeferred
async def test_a_transfer_that_starts_with_a_small_read_arrives_whole_and_in_order(
    family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[int, list[int]] = defaultdict(list)
    receive = SocketFamily.receive
    lock = threading.Lock()

    def recording(self: SocketFamily, skt: socket.socket, size: int) -> bytes:
        with lock:
            asked[id(skt)].append(size)
        return receive(self, skt, size)

    monkeypatch.setattr(SocketFamily, "receive", recording)
    to_server, to_client = payload(4 * MiB), payload(4 * MiB)
    server_got, client_got = await exchange_both_ways(family, to_server, to_client)
    assert server_got == (digest(to_server), len(to_server))
    assert client_got == (digest(to_client), len(to_client))
    assert len(asked) == 2
    assert [sizes[0] for sizes in asked.values()] == [FIRST_RECV_SIZE] * 2
