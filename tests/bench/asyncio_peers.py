"""
The asyncio streams contender's two ends, each run in a process of its own:
``asyncio.start_server(sock=...)`` and ``asyncio.open_connection(sock=...)``
over sockets of the family. The exchange is :mod:`tests.bench.exchange`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .exchange import (
    ACK,
    CONNECTS_IN_FLIGHT,
    GO,
    RECV_SIZE,
    ack,
    acknowledged,
    check_counts,
    concurrent_count,
)
from .memory import resident_bytes, thread_count
from .places import BACKLOG, Place
from .raw_peers import ClientFunction, Ready, Report, ServerFunction
from .sizes import Sizes

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _run(coroutine: Awaitable[Report]) -> Report:
    # Not asyncio.run(), which leaves the thread with no event loop set, a
    # change later code in the same process (a test) would see.
    loop = asyncio.new_event_loop()
    try:
        result: Report = loop.run_until_complete(coroutine)
    finally:
        loop.close()
    return result


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    count = 0
    while data := await reader.read(RECV_SIZE):
        count += len(data)
        writer.write(data)
        await writer.drain()
    writer.close()
    return count


class _Server:
    """Counts connections and bytes; ``done`` once ``expected`` have closed."""

    def __init__(self, expected: int, handle: Callable[..., Awaitable[int]]) -> None:
        self.connections = 0
        self.bytes = 0
        self._left = expected
        self._handle = handle
        self.done = asyncio.get_running_loop().create_future()

    async def __call__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            # Not "self.bytes += await ...", which reads self.bytes before
            # the other connections add theirs.
            count = await self._handle(reader, writer)
            self.bytes += count
        finally:
            self._left -= 1
            if not self._left and not self.done.done():
                self.done.set_result(None)


async def _serve(
    place: Place, ready: Ready, expected: int, handle: Callable[..., Awaitable[int]]
) -> Report:
    listener = place.listener()
    listener.setblocking(False)
    counter = _Server(expected, handle)
    # start_server listens again, with a backlog of 100 unless told.
    server = await asyncio.start_server(counter, sock=listener, backlog=BACKLOG)
    async with server:
        ready(place.address_text(listener))
        await counter.done
    return {"connections": counter.connections, "bytes": counter.bytes}


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    count = 0
    while data := await reader.read(RECV_SIZE):
        count += len(data)
    writer.write(ack(count))
    await writer.drain()
    writer.close()
    return count


async def _close_at_once(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> int:
    writer.close()
    return 0


def serve_bulk(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
    return _run(_serve(place, ready, 1, _sink))


def serve_ping_pong(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
    return _run(_serve(place, ready, 1, _echo))


def serve_connect_close(
    place: Place, sizes: Sizes, contender: str, ready: Ready
) -> Report:
    return _run(_serve(place, ready, sizes.connections, _close_at_once))


def serve_concurrent_echo(
    place: Place, sizes: Sizes, contender: str, ready: Ready
) -> Report:
    count = concurrent_count(contender, sizes)

    async def serve() -> Report:
        all_open = asyncio.Event()
        opened = 0

        async def handle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> int:
            nonlocal opened
            opened += 1
            if opened == count:
                idle.update(rss_idle=resident_bytes(), threads_idle=thread_count())
                all_open.set()
            await all_open.wait()
            writer.write(GO)
            return await _echo(reader, writer)

        idle = {"rss_before": resident_bytes(), "threads_before": thread_count()}
        report = await _serve(place, ready, count, handle)
        return {**report, **idle}

    return _run(serve())


# Clients.


async def _open(
    place: Place, address: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    skt = place.new_socket()
    skt.setblocking(False)
    await asyncio.get_running_loop().sock_connect(skt, place.socket_address(address))
    return await asyncio.open_connection(sock=skt)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


def bulk(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    async def run() -> Report:
        reader, writer = await _open(place, address)
        chunk = b"x" * sizes.bulk_write
        start = time.perf_counter()
        for _ in range(sizes.bulk_bytes // sizes.bulk_write):
            writer.write(chunk)
            await writer.drain()
        writer.write_eof()
        answer = await reader.readexactly(ACK.size)
        elapsed = time.perf_counter() - start
        await _close(writer)
        check_counts("bytes acknowledged", acknowledged(answer), sizes.bulk_bytes)
        return {"seconds": elapsed}

    return _run(run())


def ping_pong(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    async def run() -> Report:
        reader, writer = await _open(place, address)
        message = b"p" * sizes.message
        start = time.perf_counter()
        for _ in range(sizes.round_trips):
            writer.write(message)
            await reader.readexactly(len(message))
        elapsed = time.perf_counter() - start
        await _close(writer)
        return {"seconds": elapsed}

    return _run(run())


def connect_close(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    async def run() -> Report:
        start = time.perf_counter()
        for _ in range(sizes.connections):
            reader, writer = await _open(place, address)
            check_counts("bytes before the server's close", len(await reader.read()), 0)
            await _close(writer)
        return {"seconds": time.perf_counter() - start}

    return _run(run())


def concurrent_echo(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    count = concurrent_count(contender, sizes)
    payload = b"e" * sizes.echo_bytes

    async def run() -> Report:
        limit = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

        async def open_one() -> Any:
            async with limit:
                return await _open(place, address)

        async def echo(reader: asyncio.StreamReader, writer: Any) -> None:
            await reader.readexactly(len(GO))
            writer.write(payload)
            await reader.readexactly(len(payload))

        start = time.perf_counter()
        streams = await asyncio.gather(*(open_one() for _ in range(count)))
        await asyncio.gather(*(echo(*stream) for stream in streams))
        elapsed = time.perf_counter() - start
        await asyncio.gather(*(_close(writer) for _, writer in streams))
        return {"seconds": elapsed}

    return _run(run())


SERVERS: dict[str, ServerFunction] = {
    "bulk": serve_bulk,
    "ping-pong": serve_ping_pong,
    "connect-close": serve_connect_close,
    "concurrent-echo": serve_concurrent_echo,
}
CLIENTS: dict[str, ClientFunction] = {
    "bulk": bulk,
    "ping-pong": ping_pong,
    "connect-close": connect_close,
    "concurrent-echo": concurrent_echo,
}
