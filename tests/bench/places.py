"""
Where a benchmark's two ends meet: AF_VSOCK loopback (CID 1, guest only) or a
Unix socket in a temporary directory. Each place gives plain sockets for the
baselines and endpoint strings for the Twisted contenders (for the
thread-backed engine over Unix sockets, which has no endpoint string, its
public endpoint classes).

A server in one process tells a client in another where it listens as text
(:meth:`Place.address_text`): a vsock port number or a socket's path.
"""

from __future__ import annotations

import os
import shutil
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
    _directory: str | None = None

    def scratch(self) -> str:
        """A temporary directory (on tmpfs in the guest) for this place's files."""
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="hvsock-bench-")
        return self._directory

    def clean_up(self) -> None:
        """Remove the temporary directory, if there is one."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

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
        return self.client_endpoint_to(reactor, self.port_text(listening), threads)

    def address_text(self, listener: socket.socket) -> str:
        """Where ``listener`` listens, as a client in another process needs it."""
        raise NotImplementedError

    def port_text(self, listening: Any) -> str:
        """Where the Twisted listening port ``listening`` listens, as text."""
        raise NotImplementedError

    def socket_address(self, text: str) -> Any:
        """The address a plain socket connects to, from :meth:`address_text`."""
        raise NotImplementedError

    def client_endpoint_to(self, reactor: Any, text: str, threads: bool) -> Any:
        """A Twisted client endpoint reaching the server listening at ``text``."""
        raise NotImplementedError

    def peer_arguments(self) -> list[str]:
        """The compiled peer's server arguments saying where to listen."""
        return []

    def socat_addresses(self, directory: str) -> tuple[str, str]:
        """socat's listen and connect addresses for one connection."""
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

    def address_text(self, listener: socket.socket) -> str:
        return str(listener.getsockname()[1])

    def port_text(self, listening: Any) -> str:
        return str(listening.getHost().port)

    def socket_address(self, text: str) -> tuple[int, int]:
        return (CID_LOCAL, int(text))

    def socat_addresses(self, directory: str) -> tuple[str, str]:
        port = _free_vsock_port()
        return f"VSOCK-LISTEN:{port}", f"VSOCK-CONNECT:{CID_LOCAL}:{port}"

    def server_endpoint(self, reactor: Any, threads: bool) -> Any:
        engine = ":io=threads" if threads else ""
        return serverFromString(reactor, f"vsock:port=0:backlog={BACKLOG}{engine}")

    def client_endpoint_to(self, reactor: Any, text: str, threads: bool) -> Any:
        engine = ":io=threads" if threads else ""
        return clientFromString(reactor, f"vsock:cid={CID_LOCAL}:port={text}{engine}")


class UNIXPlace(Place):
    name = "unix"

    def __init__(self) -> None:
        self._count = 0

    def path(self) -> str:
        # Forked servers each count from the parent's count: the pid tells
        # their sockets apart.
        self._count += 1
        return os.path.join(self.scratch(), f"s{os.getpid()}-{self._count}")

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

    def address_text(self, listener: socket.socket) -> str:
        return self.connect_address(listener)

    def port_text(self, listening: Any) -> str:
        return os.fsdecode(listening.getHost().name)

    def socket_address(self, text: str) -> str:
        return text

    def peer_arguments(self) -> list[str]:
        return [f"path={self.path()}"]

    def socat_addresses(self, directory: str) -> tuple[str, str]:
        path = os.path.join(directory, "socket")
        return f"UNIX-LISTEN:{path}", f"UNIX-CONNECT:{path}"

    # The thread-backed engine has no endpoint string for Unix sockets.
    def server_endpoint(self, reactor: Any, threads: bool) -> Any:
        if threads:
            return ThreadedUNIXServerEndpoint(reactor, self.path(), BACKLOG)
        return serverFromString(reactor, f"unix:{self.path()}:backlog={BACKLOG}")

    def client_endpoint_to(self, reactor: Any, text: str, threads: bool) -> Any:
        if threads:
            return ThreadedUNIXClientEndpoint(reactor, text)
        return clientFromString(reactor, f"unix:path={text}")


def _free_vsock_port() -> int:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as probe:
        probe.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        port: int = probe.getsockname()[1]
        return port


def place_named(name: str) -> Place:
    """The place called ``name``: ``"vsock"`` or ``"unix"``."""
    if name == "vsock":
        return VSockPlace()
    if name == "unix":
        return UNIXPlace()
    raise ValueError(f"family must be vsock or unix, got {name!r}")
