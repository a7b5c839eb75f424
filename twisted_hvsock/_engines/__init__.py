"""
The one place that picks an I/O engine, and the one lazy seam of the
package: an engine's module is imported the first time an endpoint uses it,
so that Twisted's plugin scan, which loads every backend's parsers and
endpoints, loads no engine.

- ``"reactor"`` (:mod:`.reactor`): the reactor polls non-blocking sockets,
  as it does TCP's; AF_VSOCK through thin subclasses of Twisted's ``tcp``
  classes, Unix sockets through Twisted's own.
- ``"threads"`` (:mod:`.threads`): blocking sockets, each connection's reads
  and writes on threads of its own, for sockets a reactor cannot poll
  (AF_HYPERV takes only this one).

Both engines offer the same calls (:class:`Engine`); the functions here take
the engine's name, which ``_checks.check_io`` returned, and put the
allow-list gate (``_gate``) in front of every listener, whichever engine
runs it. The two engines never import each other; both build on
``_sockets``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet import defer, error
from twisted.internet.interfaces import IListeningPort, IProtocol, IProtocolFactory

from .._checks import IOEngine
from .._sockets.vsock import adopt_listening_vsock
from ..allow import PeerAllowList
from ..hyperv_ids import HyperVAddress
from ._gate import gated

__all__ = [
    "Engine",
    "adopt_vsock",
    "connect_hyperv",
    "connect_unix",
    "connect_vsock",
    "engine",
    "listen_hyperv",
    "listen_unix",
    "listen_vsock",
]


class Engine(Protocol):
    """What each engine's module offers, with the same signatures."""

    def listen_vsock(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        cid: int,
        port: int,
        backlog: int,
    ) -> IListeningPort: ...

    def adopt_vsock(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        skt: socket.socket,
        option: str,
    ) -> IListeningPort: ...

    def connect_vsock(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        cid: int,
        port: int,
        timeout: float,
    ) -> defer.Deferred[IProtocol]: ...

    def listen_unix(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        path: str | bytes,
        backlog: int,
        mode: int | None,
    ) -> IListeningPort: ...

    def connect_unix(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        path: str | bytes,
        timeout: float,
    ) -> defer.Deferred[IProtocol]: ...


def _reactor_engine() -> Engine:
    from . import reactor

    return reactor


def _thread_engine() -> Any:
    from . import threads

    return threads


#: Each engine's name, and how to load it.
_ENGINES: dict[IOEngine, Callable[[], Engine]] = {
    "reactor": _reactor_engine,
    "threads": _thread_engine,
}


def engine(io: IOEngine) -> Engine:
    """The engine ``io`` names, loaded on first use."""
    return _ENGINES[io]()


def listen_vsock(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    cid: int,
    port: int,
    backlog: int,
    io: IOEngine,
    allow: PeerAllowList | None = None,
) -> IListeningPort:
    """
    Listen on the AF_VSOCK address ``(cid, port)``; port 0 lets the kernel
    choose.

    :param allow: the peers handed to ``factory``; the port closes any other
        before a protocol is built, and counts it in its ``refused``.
    :raises CannotListenError: saying why not.
    """
    return engine(io).listen_vsock(
        reactor, gated(factory, allow), cid=cid, port=port, backlog=backlog
    )


def adopt_vsock(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    fd: int,
    option: str,
    io: IOEngine,
    allow: PeerAllowList | None = None,
) -> IListeningPort:
    """
    Accept on ``fd``, an inherited descriptor that must be a listening
    AF_VSOCK stream socket; the port takes it over and closes it when it
    stops.

    :param option: how the user named the descriptor (``"fd=3"``), for the
        errors.
    :param allow: as for :func:`listen_vsock`.
    :raises CannotListenError: naming ``option`` and what the descriptor is
        if it is no listening AF_VSOCK stream socket.
    """
    try:
        skt = adopt_listening_vsock(fd, option)
    except ValueError as e:
        raise error.CannotListenError(None, option, e) from e
    return engine(io).adopt_vsock(
        reactor, gated(factory, allow), skt=skt, option=option
    )


def connect_vsock(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    cid: int,
    port: int,
    timeout: float,
    io: IOEngine,
) -> defer.Deferred[IProtocol]:
    """
    Connect to the AF_VSOCK address ``(cid, port)``.

    :return: a Deferred firing with the connected protocol.
    """
    return engine(io).connect_vsock(
        reactor, factory, cid=cid, port=port, timeout=timeout
    )


def listen_unix(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    path: str | bytes,
    backlog: int,
    mode: int | None,
    io: IOEngine,
) -> IListeningPort:
    """
    Listen on the Unix socket ``path``, setting the socket file's ``mode``
    (if given) before any connection can reach it.

    :raises CannotListenError: saying why not.
    """
    return engine(io).listen_unix(
        reactor, factory, path=path, backlog=backlog, mode=mode
    )


def connect_unix(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    path: str | bytes,
    timeout: float,
    io: IOEngine,
) -> defer.Deferred[IProtocol]:
    """
    Connect to the Unix socket ``path``.

    :return: a Deferred firing with the connected protocol.
    """
    return engine(io).connect_unix(reactor, factory, path=path, timeout=timeout)


def listen_hyperv(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    address: HyperVAddress,
    backlog: int,
    allow: PeerAllowList | None = None,
) -> IListeningPort:
    """
    Listen on the AF_HYPERV ``address``, on threads: Windows cannot poll
    these sockets.

    :param allow: the peers handed to ``factory``, as for :func:`listen_vsock`.
    :raises CannotListenError: saying why not.
    """
    listening: IListeningPort = _thread_engine().listen_hyperv(
        reactor, gated(factory, allow), address=address, backlog=backlog
    )
    return listening


def connect_hyperv(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    address: HyperVAddress,
    timeout: float,
    suspend: bool,
) -> defer.Deferred[IProtocol]:
    """
    Connect to the AF_HYPERV ``address``, on threads.

    :param suspend: keep the connection open while the VM is paused.
    :return: a Deferred firing with the connected protocol.
    """
    connecting: defer.Deferred[IProtocol] = _thread_engine().connect_hyperv(
        reactor, factory, address=address, timeout=timeout, suspend=suspend
    )
    return connecting
