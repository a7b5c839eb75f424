"""
The thread engine: blocking sockets, with each connection's reads and writes
on threads of its own, for sockets a reactor cannot poll (Hyper-V sockets on
Windows cannot be given to ``select``).

The modules, each with one job:

- :mod:`.families`: what the engine needs to know about each address family;
- :mod:`.plumbing`: sizes, :class:`.SocketCalls`, the thread pool and the
  per-reactor registry that reactor shutdown empties, handing work to the
  reactor thread;
- :mod:`.connection_threads`: one connection's lock, stop flag and threads;
- :mod:`.reader` and :mod:`.writer`: a connection's reading and writing
  halves, each a thread and the queue it shares with the reactor thread;
- :mod:`.transport`: the connection as its protocol sees it, made of those
  parts;
- :mod:`.tls`: ``startTLS``, putting Twisted's TLS layer in front of it;
- :mod:`.client` and :mod:`.port`: connecting, listening and accepting.

Everything the protocol sees happens on the reactor thread; the threads
only block in the kernel and hand what they got to the reactor thread.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocol, IProtocolFactory

from ..._sockets.hyperv import sockaddr_for
from ..._sockets.unix import in_filesystem
from ..._sockets.vsock import VSockListening
from ..._sockets.vsock_client import VSockTarget
from ...address import PORT_ANY
from ...hyperv_ids import HyperVAddress
from .._connecting import connect_through
from .client import ThreadedConnector
from .families import (
    UNIX,
    HyperVFamily,
    vsock_client_family,
    vsock_listening_family,
)
from .port import ThreadedPort

__all__ = [
    "connect_hyperv",
    "connect_unix",
    "connect_vsock",
    "listen_hyperv",
    "listen_unix",
    "listen_vsock",
]

# The engine's face (_engines.Engine): the same calls as the reactor
# engine's, and Hyper-V's, which only this engine can drive.


def listen_vsock(
    reactor: Any, factory: IProtocolFactory, *, where: VSockListening
) -> ThreadedPort:
    """Listen, or accept on the listening socket ``where`` adopts."""
    family = vsock_listening_family(where.socket_type, where.buffer)
    if where.adopted is None:
        port = where.port
        listening = ThreadedPort(
            family,
            (where.cid, PORT_ANY if port == 0 else port),
            factory,
            where.backlog,
            reactor,
            interface=where.cid,
            port=port,
        )
    else:
        listening = ThreadedPort(
            family,
            where.adopted.getsockname(),
            factory,
            0,
            reactor,
            interface=where.option,
            adopted=where.adopted,
        )
    listening.startListening()
    return listening


def connect_vsock(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    target: VSockTarget,
    timeout: float,
) -> Deferred[IProtocol]:
    """Connect to ``target``."""
    family = vsock_client_family(target)
    address = (target.cid, target.port)
    return connect_through(
        factory,
        lambda wrapping: ThreadedConnector(family, address, wrapping, timeout, reactor),
    )


def listen_unix(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    path: str | bytes,
    backlog: int,
    mode: int | None,
) -> ThreadedPort:
    """Listen on the Unix socket ``path``, its file's ``mode`` set first."""
    set_mode = mode is not None and in_filesystem(path)
    listening = ThreadedPort(
        UNIX,
        path,
        factory,
        backlog,
        reactor,
        port=path,
        bound=(lambda: os.chmod(path, mode)) if set_mode else None,  # type: ignore[arg-type]
    )
    listening.startListening()
    return listening


def connect_unix(
    reactor: Any, factory: IProtocolFactory, *, path: str | bytes, timeout: float
) -> Deferred[IProtocol]:
    """Connect to the Unix socket ``path``."""
    return connect_through(
        factory,
        lambda wrapping: ThreadedConnector(UNIX, path, wrapping, timeout, reactor),
    )


def listen_hyperv(
    reactor: Any, factory: IProtocolFactory, *, address: HyperVAddress, backlog: int
) -> ThreadedPort:
    """Listen on the AF_HYPERV ``address``."""
    listening = ThreadedPort(
        HyperVFamily(),
        sockaddr_for(address),
        factory,
        backlog,
        reactor,
        interface=str(address.vm_id),
        port=str(address.service_id),
    )
    listening.startListening()
    return listening


def connect_hyperv(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    address: HyperVAddress,
    timeout: float,
    suspend: bool,
) -> Deferred[IProtocol]:
    """Connect to the AF_HYPERV ``address``; ``suspend``: survive a paused VM."""
    sockaddr = sockaddr_for(address)
    return connect_through(
        factory,
        lambda wrapping: ThreadedConnector(
            HyperVFamily(suspend), sockaddr, wrapping, timeout, reactor
        ),
    )
