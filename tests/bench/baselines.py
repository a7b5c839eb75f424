"""
The baselines the Twisted contenders are measured against, on the same
sockets and with the same workloads as :mod:`tests.bench.twisted_contenders`:

- raw blocking Python sockets, one thread per side (per connection);
- asyncio streams over an already-connected socket of the family;
- socat, both ends, for bulk transfer only.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from .memory import resident_bytes
from .places import Place
from .sizes import Sizes

Measurement = dict[str, float]
#: How much one ``recv`` asks for; asyncio's socket transports read as much.
RECV_SIZE = 256 * 1024


def _thread(target: Callable[..., Any], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _recv_exactly(skt: socket.socket, size: int) -> None:
    while size > 0:
        data = skt.recv(min(size, RECV_SIZE))
        if not data:
            raise ConnectionError("the peer closed early")
        size -= len(data)


def _drain(skt: socket.socket) -> None:
    """Read until the peer closes."""
    buffer = bytearray(RECV_SIZE)
    while skt.recv_into(buffer):
        pass


# Raw blocking sockets.


def raw_bulk(place: Place, sizes: Sizes) -> Measurement:
    listener = place.listener()
    ended: list[float] = []

    def receive() -> None:
        conn, _ = listener.accept()
        with conn:
            _drain(conn)
        ended.append(time.perf_counter())

    receiver = _thread(receive)
    chunk = b"x" * sizes.bulk_write
    with place.new_socket() as client:
        client.connect(place.connect_address(listener))
        start = time.perf_counter()
        for _ in range(sizes.bulk_bytes // sizes.bulk_write):
            client.sendall(chunk)
    receiver.join()
    listener.close()
    elapsed = ended[0] - start
    return {"MB/s": sizes.bulk_bytes / elapsed / 1e6, "seconds": elapsed}


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(RECV_SIZE):
            conn.sendall(data)


def raw_ping_pong(place: Place, sizes: Sizes) -> Measurement:
    listener = place.listener()
    server = _thread(lambda: _echo(listener.accept()[0]))
    message = b"p" * sizes.message
    with place.new_socket() as client:
        client.connect(place.connect_address(listener))
        start = time.perf_counter()
        for _ in range(sizes.round_trips):
            client.sendall(message)
            _recv_exactly(client, len(message))
        elapsed = time.perf_counter() - start
    server.join()
    listener.close()
    return {"round trips/s": sizes.round_trips / elapsed, "seconds": elapsed}


def raw_connect_close(place: Place, sizes: Sizes) -> Measurement:
    listener = place.listener()

    def serve() -> None:
        for _ in range(sizes.connections):
            conn, _ = listener.accept()
            with conn:
                _drain(conn)

    server = _thread(serve)
    address = place.connect_address(listener)
    start = time.perf_counter()
    for _ in range(sizes.connections):
        with place.new_socket() as client:
            client.connect(address)
    elapsed = time.perf_counter() - start
    server.join()
    listener.close()
    return {"connections/s": sizes.connections / elapsed, "seconds": elapsed}


def raw_concurrent_echo(place: Place, sizes: Sizes) -> Measurement:
    count = sizes.concurrent_threads
    listener = place.listener()
    started = threading.Semaphore(0)
    echoes: list[threading.Thread] = []

    def serve_one(conn: socket.socket) -> None:
        started.release()
        _echo(conn)

    def accept_all() -> None:
        for _ in range(count):
            echoes.append(_thread(serve_one, listener.accept()[0]))

    acceptor = _thread(accept_all)
    address = place.connect_address(listener)
    payload = b"e" * sizes.echo_bytes
    before = resident_bytes()
    start = time.perf_counter()
    clients = []
    for _ in range(count):
        client = place.new_socket()
        client.connect(address)
        clients.append(client)
    for _ in range(count):
        started.acquire()
    idle = resident_bytes()

    def echo_once(client: socket.socket) -> None:
        with client:
            client.sendall(payload)
            _recv_exactly(client, len(payload))

    for thread in [_thread(echo_once, client) for client in clients]:
        thread.join()
    acceptor.join()
    for thread in echoes:
        thread.join()
    elapsed = time.perf_counter() - start
    listener.close()
    return {
        "connections": count,
        "seconds": elapsed,
        "echoes/s": count / elapsed,
        "KiB/connection": (idle - before) / count / 1024,
    }


# asyncio streams.


async def _serve(place: Place, handler: Callable[..., Any]) -> tuple[Any, Any]:
    listener = place.listener()
    listener.setblocking(False)
    address = place.connect_address(listener)
    server = await asyncio.start_server(handler, sock=listener)
    return server, address


async def _open(place: Place, address: Any) -> tuple[Any, Any]:
    skt = place.new_socket()
    skt.setblocking(False)
    await asyncio.get_running_loop().sock_connect(skt, address)
    return await asyncio.open_connection(sock=skt)


async def _async_echo(reader: Any, writer: Any) -> None:
    while data := await reader.read(RECV_SIZE):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _asyncio_bulk(place: Place, sizes: Sizes) -> Measurement:
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def receive(reader: Any, writer: Any) -> None:
        while await reader.read(RECV_SIZE):
            pass
        done.set_result(time.perf_counter())
        writer.close()

    server, address = await _serve(place, receive)
    async with server:
        _, writer = await _open(place, address)
        start = time.perf_counter()
        chunk = b"x" * sizes.bulk_write
        for _ in range(sizes.bulk_bytes // sizes.bulk_write):
            writer.write(chunk)
            await writer.drain()
        writer.close()
        elapsed = await done - start
    return {"MB/s": sizes.bulk_bytes / elapsed / 1e6, "seconds": elapsed}


async def _asyncio_ping_pong(place: Place, sizes: Sizes) -> Measurement:
    server, address = await _serve(place, _async_echo)
    async with server:
        reader, writer = await _open(place, address)
        message = b"p" * sizes.message
        start = time.perf_counter()
        for _ in range(sizes.round_trips):
            writer.write(message)
            await reader.readexactly(len(message))
        elapsed = time.perf_counter() - start
        writer.close()
        await writer.wait_closed()
    return {"round trips/s": sizes.round_trips / elapsed, "seconds": elapsed}


async def _asyncio_connect_close(place: Place, sizes: Sizes) -> Measurement:
    async def serve(reader: Any, writer: Any) -> None:
        await reader.read()
        writer.close()

    server, address = await _serve(place, serve)
    async with server:
        start = time.perf_counter()
        for _ in range(sizes.connections):
            _, writer = await _open(place, address)
            writer.close()
            await writer.wait_closed()
        elapsed = time.perf_counter() - start
    return {"connections/s": sizes.connections / elapsed, "seconds": elapsed}


async def _asyncio_concurrent_echo(place: Place, sizes: Sizes) -> Measurement:
    count = sizes.concurrent_native
    made = 0
    all_made = asyncio.Event()

    async def serve(reader: Any, writer: Any) -> None:
        nonlocal made
        made += 1
        if made == count:
            all_made.set()
        await _async_echo(reader, writer)

    server, address = await _serve(place, serve)
    payload = b"e" * sizes.echo_bytes
    limit = asyncio.Semaphore(64)

    async def open_one() -> tuple[Any, Any]:
        async with limit:
            return await _open(place, address)

    async def echo_once(reader: Any, writer: Any) -> None:
        writer.write(payload)
        await reader.readexactly(len(payload))
        writer.close()
        await writer.wait_closed()

    async with server:
        before = resident_bytes()
        start = time.perf_counter()
        streams = await asyncio.gather(*(open_one() for _ in range(count)))
        await all_made.wait()
        idle = resident_bytes()
        await asyncio.gather(*(echo_once(*stream) for stream in streams))
        elapsed = time.perf_counter() - start
    return {
        "connections": count,
        "seconds": elapsed,
        "echoes/s": count / elapsed,
        "KiB/connection": (idle - before) / count / 1024,
    }


def _run_async(workload: Callable[[Place, Sizes], Any]) -> Callable[..., Measurement]:
    def run(place: Place, sizes: Sizes) -> Measurement:
        # Not asyncio.run(), which leaves the thread with no event loop set,
        # a change that later code in the same process (tests) would see.
        loop = asyncio.new_event_loop()
        try:
            result: Measurement = loop.run_until_complete(workload(place, sizes))
        finally:
            loop.close()
        return result

    return run


# socat.


def socat_bulk(place: Place, sizes: Sizes) -> Measurement:
    """socat at both ends, the sender reading a file of ``bulk_bytes`` bytes."""
    with tempfile.TemporaryDirectory() as directory:
        source = os.path.join(directory, "source")
        with open(source, "wb") as out:
            chunk = b"x" * sizes.bulk_write
            for _ in range(sizes.bulk_bytes // sizes.bulk_write):
                out.write(chunk)
        if place.name == "vsock":
            port = _free_vsock_port()
            listen, connect = f"VSOCK-LISTEN:{port}", f"VSOCK-CONNECT:1:{port}"
        else:
            path = os.path.join(directory, "socket")
            listen, connect = f"UNIX-LISTEN:{path}", f"UNIX-CONNECT:{path}"
        block = f"-b{sizes.bulk_write}"
        receiver = subprocess.Popen(
            ["socat", "-d", "-d", "-u", block, listen, "STDOUT"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert receiver.stderr is not None
        # socat says so on stderr once it listens.
        for line in receiver.stderr:
            if "listening on" in line:
                break
        start = time.perf_counter()
        subprocess.run(["socat", "-u", block, f"OPEN:{source}", connect], check=True)
        receiver.stderr.read()
        if receiver.wait() != 0:
            raise RuntimeError(f"socat receiver exited {receiver.returncode}")
        elapsed = time.perf_counter() - start
    return {"MB/s": sizes.bulk_bytes / elapsed / 1e6, "seconds": elapsed}


def _free_vsock_port() -> int:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as probe:
        probe.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        port: int = probe.getsockname()[1]
        return port


#: contender -> workload -> function(place, sizes).
BASELINES: dict[str, dict[str, Callable[[Place, Sizes], Measurement]]] = {
    "raw": {
        "bulk": raw_bulk,
        "ping-pong": raw_ping_pong,
        "connect-close": raw_connect_close,
        "concurrent-echo": raw_concurrent_echo,
    },
    "asyncio": {
        "bulk": _run_async(_asyncio_bulk),
        "ping-pong": _run_async(_asyncio_ping_pong),
        "connect-close": _run_async(_asyncio_connect_close),
        "concurrent-echo": _run_async(_asyncio_concurrent_echo),
    },
    "socat": {"bulk": socat_bulk},
}
