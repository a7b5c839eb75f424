"""
Helpers and protocols shared by the Unix-socket tests (the ``sockdir`` and
``io`` fixtures built on them are in ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from .streams import Echo, SendAndCollect, digest, factory_for, payload

MiB = 1024 * 1024


def short_directory() -> Iterator[str]:
    """A short directory for socket files (pytest's own may be too long)."""
    directory = tempfile.mkdtemp(prefix="hv", dir="/tmp")
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def each_engine(request: pytest.FixtureRequest) -> str:
    """Each I/O engine in turn."""
    engine: str = request.param
    return engine


def listen_as_guest(path: str, factory: IProtocolFactory) -> IListeningPort:
    """A Unix listener standing in for a guest's vsock port."""
    port: IListeningPort = reactor.listenUNIX(path, factory)  # type: ignore[attr-defined]
    return port


def connect_as_vmm(path: str, factory: IProtocolFactory) -> Deferred[Any]:
    """Connect to a host listener as the VMM does for a guest's connection."""
    return UNIXClientEndpoint(reactor, path).connect(factory)


async def exchange_as_vmm(
    endpoint: IStreamServerEndpoint,
    path: str,
    size: int,
    while_listening: Callable[[], None] = lambda: None,
) -> None:
    """
    Listen on ``endpoint``; connect to its socket file ``path`` as the VMM
    does for a guest; send ``size`` bytes each way, half-closing; check both
    arrive intact, and that the socket file is gone once the port stops.
    ``while_listening`` runs checks of its own while the port listens.
    """
    to_guest, to_host = payload(size), payload(size)
    host = factory_for(lambda: SendAndCollect(to_guest))
    port = await endpoint.listen(host)
    try:
        while_listening()
        vmm = await connect_as_vmm(path, factory_for(lambda: SendAndCollect(to_host)))
        guest_got = await vmm.finished
        host_got = await host.built[0].finished  # type: ignore[attr-defined]
    finally:
        await port.stopListening()
    assert host_got == (digest(to_host), len(to_host))
    assert guest_got == (digest(to_guest), len(to_guest))
    assert not os.path.exists(path)


async def echo_repeatedly_as_vmm(endpoint: IStreamServerEndpoint, path: str) -> None:
    """An echo listener on ``endpoint`` answers three connections in a row."""
    port = await endpoint.listen(Factory.forProtocol(Echo))
    try:
        for n in range(3):
            message = f"connection {n}".encode()
            vmm = await connect_as_vmm(
                path, factory_for(lambda m=message: SendAndCollect(m))
            )
            assert await vmm.finished == (digest(message), len(message))
    finally:
        await port.stopListening()


class Collect(Protocol):
    """
    Records what happens to it, in order: ``"made"``, each chunk of data,
    ``"lost"``; ``lost`` fires once the connection is gone, and ``reason``
    says why.
    """

    def __init__(self, events: list[object] | None = None) -> None:
        self.events: list[object] = [] if events is None else events
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.events.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.events.append("lost")
        self.reason = reason
        self.lost.callback(None)

    def data(self) -> bytes:
        return b"".join(e for e in self.events if isinstance(e, bytes))
