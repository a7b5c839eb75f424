"""
The raw blocking sockets contender's two ends, each run in a process of its
own: plain Python ``socket`` calls, and a thread per connection where a
server holds many at once. The exchange is :mod:`tests.bench.exchange`'s.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .exchange import (
    ACK,
    GO,
    RECV_SIZE,
    CountError,
    ack,
    acknowledged,
    check_counts,
    concurrent_count,
)
from .memory import resident_bytes, thread_count
from .places import Place
from .sizes import Sizes

Ready = Callable[[str], None]
Report = dict[str, Any]


def _drain(skt: socket.socket) -> int:
    """Read until the peer closes; the number of bytes read."""
    buffer = bytearray(RECV_SIZE)
    count = 0
    while got := skt.recv_into(buffer):
        count += got
    return count


def _echo(skt: socket.socket) -> int:
    """Echo until the peer closes; the number of bytes echoed."""
    buffer = bytearray(RECV_SIZE)
    view = memoryview(buffer)
    count = 0
    while got := skt.recv_into(buffer):
        skt.sendall(view[:got])
        count += got
    return count


def recv_exactly(skt: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``skt``; :class:`CountError` on an early close."""
    parts = []
    while size > 0:
        data = skt.recv(min(size, RECV_SIZE))
        if not data:
            raise CountError(f"the peer closed {size} bytes early")
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


# Servers.


def _listen(place: Place, ready: Ready) -> socket.socket:
    listener = place.listener()
    ready(place.address_text(listener))
    return listener


def serve_bulk(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
    with _listen(place, ready) as listener:
        conn, _ = listener.accept()
        with conn:
            count = _drain(conn)
            conn.sendall(ack(count))
    return {"connections": 1, "bytes": count}


def serve_ping_pong(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
    with _listen(place, ready) as listener:
        conn, _ = listener.accept()
        with conn:
            count = _echo(conn)
    return {"connections": 1, "bytes": count}


def serve_connect_close(
    place: Place, sizes: Sizes, contender: str, ready: Ready
) -> Report:
    with _listen(place, ready) as listener:
        for _ in range(sizes.connections):
            listener.accept()[0].close()
    return {"connections": sizes.connections, "bytes": 0}


def serve_concurrent_echo(
    place: Place, sizes: Sizes, contender: str, ready: Ready
) -> Report:
    """A thread per connection, each waiting for the signal to write :data:`GO`."""
    count = concurrent_count(contender, sizes)
    all_open = threading.Event()
    echoed: list[int] = []

    def serve_one(conn: socket.socket) -> None:
        with conn:
            all_open.wait()
            conn.sendall(GO)
            echoed.append(_echo(conn))

    rss_before, threads_before = resident_bytes(), thread_count()
    with _listen(place, ready) as listener:
        threads = []
        for _ in range(count):
            thread = threading.Thread(target=serve_one, args=(listener.accept()[0],))
            thread.start()
            threads.append(thread)
    rss_idle, threads_idle = resident_bytes(), thread_count()
    all_open.set()
    for thread in threads:
        thread.join()
    return {
        "connections": len(echoed),
        "bytes": sum(echoed),
        "rss_before": rss_before,
        "rss_idle": rss_idle,
        "threads_before": threads_before,
        "threads_idle": threads_idle,
    }


# Clients.


def _connect(place: Place, address: str) -> socket.socket:
    skt = place.new_socket()
    skt.connect(place.socket_address(address))
    return skt


def bulk(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    chunk = b"x" * sizes.bulk_write
    with _connect(place, address) as client:
        start = time.perf_counter()
        for _ in range(sizes.bulk_bytes // sizes.bulk_write):
            client.sendall(chunk)
        client.shutdown(socket.SHUT_WR)
        answer = recv_exactly(client, ACK.size)
        elapsed = time.perf_counter() - start
    check_counts("bytes acknowledged", acknowledged(answer), sizes.bulk_bytes)
    return {"seconds": elapsed}


def ping_pong(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    message = b"p" * sizes.message
    with _connect(place, address) as client:
        start = time.perf_counter()
        for _ in range(sizes.round_trips):
            client.sendall(message)
            check_counts("echo", len(recv_exactly(client, len(message))), len(message))
        elapsed = time.perf_counter() - start
    return {"seconds": elapsed}


def connect_close(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    start = time.perf_counter()
    for _ in range(sizes.connections):
        with _connect(place, address) as client:
            check_counts("bytes before the server's close", _drain(client), 0)
    return {"seconds": time.perf_counter() - start}


def concurrent_echo(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    """One connection after another, each blocking call in turn: no threads."""
    count = concurrent_count(contender, sizes)
    payload = b"e" * sizes.echo_bytes
    start = time.perf_counter()
    clients = [_connect(place, address) for _ in range(count)]
    try:
        for client in clients:
            check_counts("go", len(recv_exactly(client, len(GO))), len(GO))
        # Each echo fits in its socket's buffers, so sending all before
        # reading any cannot stall.
        for client in clients:
            client.sendall(payload)
        for client in clients:
            recv_exactly(client, len(payload))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    return {"seconds": elapsed}


ServerFunction = Callable[[Place, Sizes, str, Ready], Report]
ClientFunction = Callable[[Place, str, Sizes, str], Report]

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
