"""
Where a benchmark's two ends meet: AF_VSOCK loopback (CID 1, guest only) or a
Unix socket in a temporary directory. Each place gives plain sockets for the
baselines and endpoint strings for the Twisted contenders.
"""

from __future__ import annotations

import os
import socket
import tempfile
from typing import Any

from twisted.internet.endpoints import clientFromString, serverFromString

from twisted_hvsock.threaded_unix import (
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
)

CID_LOCAL = 1  # socket.VMADDR_CID_LOCAL is missing before Python 3.12
#: Listen backlog: enough for the concurrent workload's bursts of connects.
BACKLOG = 1024


class Place:
    """One address family's way to listen and connect."""

    name = ""

    def listener(self) -> socket.socket:
        """A bound, listening, blocking socket."""
        raise NotImplementedError

    def connect_address(self, listener: socket.socket) -> Any:
        """The address a client connects to, to reach ``listener``."""
        raise NotImplementedError

    def new_socket(self) -> socket.socket:
        """A new unconnected stream socket of this family."""
        raise NotImplementedError

    def server_endpoint(self, reactor: Any, threads: bool) -> Any:
        """A Twisted server endpoint, from its public endpoint string."""
        raise NotImplementedError

    def client_endpoint(self, reactor: Any, listening: Any, threads: bool) -> Any:
        """A Twisted client endpoint reaching the port ``listening``."""
        raise NotImplementedError


class VSockPlace(Place):
    name = "vsock"

    def new_socket(self) -> socket.socket:
        return socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)

    def listener(self) -> socket.socket:
        skt = self.new_socket()
        skt.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        skt.listen(BACKLOG)
        return skt

    def connect_address(self, listener: socket.socket) -> tuple[int, int]:
        return (CID_LOCAL, listener.getsockname()[1])

    def server_endpoint(self, reactor: Any, threads: bool) -> Any:
        engine = ":io=threads" if threads else ""
        return serverFromString(reactor, f"vsock:port=0:backlog={BACKLOG}{engine}")

    def client_endpoint(self, reactor: Any, listening: Any, threads: bool) -> Any:
        port = listening.getHost().port
        engine = ":io=threads" if threads else ""
        return clientFromString(reactor, f"vsock:cid={CID_LOCAL}:port={port}{engine}")


class UNIXPlace(Place):
    name = "unix"

    def __init__(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="hvsock-bench-")
        self._count = 0

    def path(self) -> str:
        self._count += 1
        return os.path.join(self._directory, f"s{self._count}")

    def new_socket(self) -> socket.socket:
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def listener(self) -> socket.socket:
        skt = self.new_socket()
        skt.bind(self.path())
        skt.listen(BACKLOG)
        return skt

    def connect_address(self, listener: socket.socket) -> str:
        address: str = listener.getsockname()
        return address

    # The thread-backed engine has no endpoint string for Unix sockets.
    def server_endpoint(self, reactor: Any, threads: bool) -> Any:
        if threads:
            return ThreadedUNIXServerEndpoint(reactor, self.path(), BACKLOG)
        return serverFromString(reactor, f"unix:{self.path()}:backlog={BACKLOG}")

    def client_endpoint(self, reactor: Any, listening: Any, threads: bool) -> Any:
        path = os.fsdecode(listening.getHost().name)
        if threads:
            return ThreadedUNIXClientEndpoint(reactor, path)
        return clientFromString(reactor, f"unix:path={path}")


def place_named(name: str) -> Place:
    """The place called ``name``: ``"vsock"`` or ``"unix"``."""
    if name == "vsock":
        return VSockPlace()
    if name == "unix":
        return UNIXPlace()
    raise ValueError(f"family must be vsock or unix, got {name!r}")
