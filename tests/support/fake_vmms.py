"""
Peers that play a hypervisor's side of its vsock Unix sockets, byte-exact to
the documented protocols, for the hyperkit and hybrid vsock tests:

- :class:`FakeHyperkit` listens on ``<dir>/connect``, reads exactly the
  18-byte header ``%08x.%08x\\n`` and relays to the guest listener for that
  CID and port, or closes when there is none;
- :class:`FakeHybridVSock` listens on the VMM socket, reads
  ``CONNECT <port>\\n`` and answers as Firecracker (``OK <2**30 + n>\\n``) or
  vhost-device-vsock (``OK <port>\\n``) do, then relays; its ``behaviour``
  picks the awkward cases a client must survive.

"Guests" are ordinary Unix listeners the test starts; the fakes relay with
:mod:`twisted_hvsock.relay`, which passes half-close and backpressure on.
"""

from __future__ import annotations

import os
import re
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure

from twisted_hvsock.relay import RelayProtocol, splice

#: Where Firecracker and Cloud Hypervisor start numbering host-side ports.
FIRST_HOST_PORT = 1 << 30

_HYPERKIT_HEADER = re.compile(rb"([0-9a-f]{8})\.([0-9a-f]{8})\n")
_CONNECT = re.compile(rb"CONNECT ([0-9]{1,10})\n")

#: What :class:`FakeHybridVSock` can do instead of answering plainly.
BEHAVIOURS = (
    "firecracker",  # OK <2**30 + n>\n, then relay
    "vhost",  # OK <guest port>\n, then relay
    "split",  # the OK line one byte at a time
    "data",  # the OK line and the guest's first bytes in one write
    "garbage",  # a line that is not OK <port>, and stay open
    "long",  # an over-long line without end, and stay open
    "close",  # close without answering
    "silent",  # never answer, stay open
)


class _HeaderThenRelay(RelayProtocol):
    """Reads the hypervisor's header, then relays to the guest it names."""

    def __init__(self, fake: _FakeHypervisor) -> None:
        super().__init__()
        self.fake = fake
        self.head = b""
        self.decided = False
        self.relaying = False
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.fake.connections.append(self)

    def dataReceived(self, data: bytes) -> None:
        if self.decided:
            super().dataReceived(data)
            return
        self.head += data
        decision = self.fake.read_header(self.head)
        if decision is None:
            return
        self.decided = True
        header, guest, rest = decision
        self.fake.headers.append(header)
        if self.fake.misbehave(self):
            return
        if guest is None:
            self.transport.loseConnection()  # type: ignore[union-attr]
            return
        self.relaying = True
        self.transport.pauseProducing()  # type: ignore[union-attr]
        if rest:
            super().dataReceived(rest)
        connecting = UNIXClientEndpoint(reactor, guest).connect(
            Factory.forProtocol(RelayProtocol)
        )
        connecting.addCallbacks(self.guest_connected, lambda _: self.refuse())

    def refuse(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    def guest_connected(self, guest: RelayProtocol) -> None:
        self.fake.answer(self, guest)

    def readConnectionLost(self) -> None:
        if self.relaying:
            super().readConnectionLost()
        else:
            self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        super().connectionLost(reason)
        self.lost.callback(None)


class _FakeHypervisor:
    """Listening, guests and bookkeeping shared by both fakes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.guests: dict[Any, str] = {}
        self.headers: list[bytes] = []
        self.connections: list[_HeaderThenRelay] = []
        self.port: IListeningPort | None = None

    def start(self) -> None:
        self.port = reactor.listenUNIX(  # type: ignore[attr-defined]
            self.path, Factory.forProtocol(lambda: _HeaderThenRelay(self))
        )

    async def stop(self) -> None:
        assert self.port is not None
        await self.port.stopListening()
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.loseConnection()
            await connection.lost

    def read_header(self, head: bytes) -> tuple[bytes, str | None, bytes] | None:
        """
        ``None`` while more of the header is to come; else the header, the
        guest listener it names (``None``: nobody listens), what followed.
        """
        raise NotImplementedError

    def misbehave(self, connection: _HeaderThenRelay) -> bool:
        """Whether to do something odd instead of answering and relaying."""
        return False

    def answer(self, connection: _HeaderThenRelay, guest: RelayProtocol) -> None:
        splice(connection, guest)


class FakeHyperkit(_FakeHypervisor):
    """
    hyperkit's ``<directory>/connect`` socket. ``guests`` maps ``(cid,
    port)`` to the Unix listener that stands in for that guest port.
    """

    def __init__(self, directory: str) -> None:
        super().__init__(os.path.join(directory, "connect"))

    def read_header(self, head: bytes) -> tuple[bytes, str | None, bytes] | None:
        if len(head) < 18:
            return None
        header, rest = head[:18], head[18:]
        match = _HYPERKIT_HEADER.fullmatch(header)
        if match is None:
            return header, None, rest
        cid, port = int(match[1], 16), int(match[2], 16)
        return header, self.guests.get((cid, port)), rest


class FakeHybridVSock(_FakeHypervisor):
    """
    A Firecracker-style VMM socket. ``guests`` maps a guest port to the Unix
    listener that stands in for it; ``behaviour`` is one of
    :data:`BEHAVIOURS`; ``early`` is what ``"data"`` sends with the OK line.
    """

    def __init__(
        self, path: str, behaviour: str = "firecracker", early: bytes = b""
    ) -> None:
        assert behaviour in BEHAVIOURS
        super().__init__(path)
        self.behaviour = behaviour
        self.early = early
        self.answered = 0

    def read_header(self, head: bytes) -> tuple[bytes, str | None, bytes] | None:
        end = head.find(b"\n")
        if end < 0:
            return None if len(head) < 32 else (head, None, b"")
        header, rest = head[: end + 1], head[end + 1 :]
        match = _CONNECT.fullmatch(header)
        if match is None or self.behaviour == "close":
            return header, None, rest
        return header, self.guests.get(int(match[1])), rest

    def misbehave(self, connection: _HeaderThenRelay) -> bool:
        transport: Any = connection.transport
        if self.behaviour == "garbage":
            transport.write(b"ERR no such port\n")
        elif self.behaviour == "long":
            transport.write(b"OK " + b"1" * 40)
        return self.behaviour in ("garbage", "long", "silent")

    def answer(self, connection: _HeaderThenRelay, guest: RelayProtocol) -> None:
        self.answered += 1
        port = int(_CONNECT.fullmatch(self.headers[-1])[1])  # type: ignore[index]
        if self.behaviour == "vhost":
            line = f"OK {port}\n".encode()
        else:
            line = f"OK {FIRST_HOST_PORT + self.answered - 1}\n".encode()
        transport: Any = connection.transport
        if self.behaviour == "split":
            self._write_slowly(transport, line, lambda: splice(connection, guest))
            return
        transport.write(line + (self.early if self.behaviour == "data" else b""))
        splice(connection, guest)

    def _write_slowly(self, transport: Any, data: bytes, then: Any) -> None:
        # One byte per reactor turn and a little more, so that each byte
        # arrives on its own.
        if not data:
            then()
            return
        transport.write(data[:1])
        reactor.callLater(  # type: ignore[attr-defined]
            0.01, self._write_slowly, transport, data[1:], then
        )
