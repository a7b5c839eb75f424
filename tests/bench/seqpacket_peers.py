"""
The seqpacket-ping-pong workload's ends (AF_VSOCK only, so in the guest):
the same exchange as ping-pong, over ``SOCK_SEQPACKET`` connections. The
client sends one ``message``-byte message at a time and waits for its echo;
the server sends each message it receives straight back as one message. Each
end checks that every message arrived whole (one receive, one message, of
the length sent), so a run that merged or split messages fails instead of
counting.

The contenders are raw blocking ``SOCK_SEQPACKET`` sockets and the two
Twisted engines through ``vsock:...:type=seqpacket`` endpoint strings, each
end in a process of its own like every two-process workload.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from .exchange import CountError, check_counts
from .places import BACKLOG, CID_LOCAL, Place
from .raw_peers import ClientFunction, Ready, Report, ServerFunction
from .sizes import Sizes
from .twisted_peers import ENGINES, _Factory, run_on_reactor

#: More than any message of the workload, so that a merged one would show.
RECV_SIZE = 64 * 1024


def _engine(contender: str) -> str:
    return ":io=threads" if ENGINES[contender] else ""


# Raw blocking sockets.


def _raw_serve(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
    messages = count = 0
    with socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET) as listener:
        listener.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        listener.listen(BACKLOG)
        ready(str(listener.getsockname()[1]))
        conn, _ = listener.accept()
        with conn:
            while message := conn.recv(RECV_SIZE):
                conn.sendall(message)
                messages += 1
                count += len(message)
    return {"connections": 1, "bytes": count, "messages": messages}


def _raw_client(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    message = b"m" * sizes.message
    with socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET) as client:
        client.connect((CID_LOCAL, int(address)))
        start = time.perf_counter()
        for _ in range(sizes.round_trips):
            client.sendall(message)
            check_counts("echoed message", len(client.recv(RECV_SIZE)), len(message))
        elapsed = time.perf_counter() - start
    return {"seconds": elapsed}


# The Twisted engines.


class _MessageEcho(Protocol):
    """Echoes each message; ``done`` fires once the connection is gone."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.done: defer.Deferred[None] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.messages += 1
        self.bytes += len(data)
        self.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.done.callback(None)


def _twisted_serve(place: Place, sizes: Sizes, contender: str, ready: Ready) -> Report:
    async def main(reactor: Any) -> Report:
        echoes: list[_MessageEcho] = []
        accepted: defer.Deferred[None] = defer.Deferred()

        def build() -> _MessageEcho:
            echo = _MessageEcho()
            echoes.append(echo)
            accepted.callback(None)
            return echo

        description = f"vsock:port=0:backlog={BACKLOG}:type=seqpacket"
        endpoint = serverFromString(reactor, description + _engine(contender))
        port = await endpoint.listen(_Factory(build))
        try:
            ready(str(port.getHost().port))
            await accepted
            await echoes[0].done
        finally:
            await port.stopListening()
        echo = echoes[0]
        return {"connections": 1, "bytes": echo.bytes, "messages": echo.messages}

    return run_on_reactor(main)


class _MessagePingClient(Protocol):
    """Sends ``message``, waits for its echo (whole, alone), ``count`` times."""

    def __init__(self, message: bytes, count: int) -> None:
        self._message = message
        self._left = count
        self.finished: defer.Deferred[None] = defer.Deferred()
        self.lost: defer.Deferred[None] = defer.Deferred()

    def start(self) -> None:
        self.transport.write(self._message)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return
        if len(data) != len(self._message):
            self.finished.errback(
                CountError(f"echoed message: got {len(data)} bytes in one message")
            )
            return
        self._left -= 1
        if self._left:
            self.transport.write(self._message)  # type: ignore[union-attr]
        else:
            self.finished.callback(None)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.finished.called:
            self.finished.errback(CountError(f"closed {self._left} echoes early"))
        self.lost.callback(None)


def _twisted_client(place: Place, address: str, sizes: Sizes, contender: str) -> Report:
    async def main(reactor: Any) -> Report:
        description = f"vsock:cid={CID_LOCAL}:port={address}:type=seqpacket"
        endpoint = clientFromString(reactor, description + _engine(contender))
        message = b"m" * sizes.message
        client = await endpoint.connect(
            _Factory(lambda: _MessagePingClient(message, sizes.round_trips))
        )
        start = time.perf_counter()
        client.start()
        try:
            await client.finished
        finally:
            elapsed = time.perf_counter() - start
            client.transport.loseConnection()
            await client.lost
        return {"seconds": elapsed}

    return run_on_reactor(main)


#: contender -> the workload's server and client ends.
SERVERS: dict[str, ServerFunction] = {
    "raw": _raw_serve,
    "native": _twisted_serve,
    "threads": _twisted_serve,
}
CLIENTS: dict[str, ClientFunction] = {
    "raw": _raw_client,
    "native": _twisted_client,
    "threads": _twisted_client,
}
