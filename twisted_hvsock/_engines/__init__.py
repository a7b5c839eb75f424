"""
The one place that picks an I/O engine: the endpoints call these functions
with the engine name :func:`~twisted_hvsock._checks.check_io` returned, and
each function builds that engine's port or connector.

- ``"reactor"`` (:mod:`.reactor`): the reactor polls non-blocking sockets,
  as it does TCP's; AF_VSOCK through thin subclasses of Twisted's ``tcp``
  classes, Unix sockets through Twisted's own.
- ``"threads"`` (:mod:`.threads`): blocking sockets, each connection's reads
  and writes on threads of its own, for sockets a reactor cannot poll
  (AF_HYPERV takes only this one).

The two engines never import each other; both build on ``_sockets``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, error
from twisted.internet.endpoints import UNIXClientEndpoint, _WrappingFactory
from twisted.internet.interfaces import IListeningPort, IProtocol, IProtocolFactory

from .._checks import IOEngine
from .._sockets.hyperv import sockaddr_for
from .._sockets.unix import in_filesystem
from .._sockets.vsock import adopt_listening_vsock
from ..address import PORT_ANY
from ..allow import PeerAllowList
from ..hyperv_ids import HyperVAddress
from .reactor import UNIXPort, VSockConnector, VSockPort
from .threads import UNIX, VSOCK, HyperVFamily, ThreadedConnector, ThreadedPort

__all__ = [
    "adopt_vsock",
    "connect_hyperv",
    "connect_unix",
    "connect_vsock",
    "listen_hyperv",
    "listen_unix",
    "listen_vsock",
]

_THREADS = "threads"


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
    listening: VSockPort | ThreadedPort
    if io == _THREADS:
        listening = ThreadedPort(
            VSOCK,
            (cid, PORT_ANY if port == 0 else port),
            factory,
            backlog,
            reactor,
            interface=cid,
            port=port,
            allow=allow,
        )
    else:
        listening = VSockPort(port, factory, cid, backlog, reactor, allow)
    listening.startListening()
    return listening


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
    listening: VSockPort | ThreadedPort
    if io == _THREADS:
        listening = ThreadedPort(
            VSOCK,
            skt.getsockname(),
            factory,
            0,
            reactor,
            interface=option,
            allow=allow,
            adopted=skt,
        )
    else:
        listening = VSockPort.adopting(skt, factory, reactor, allow)
    listening.startListening()
    return listening


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
    if io == _THREADS:
        return _connect_through(
            factory,
            lambda wrapping: ThreadedConnector(
                VSOCK, (cid, port), wrapping, timeout, reactor
            ),
        )
    return _connect_through(
        factory,
        lambda wrapping: VSockConnector(cid, port, wrapping, timeout, reactor),
    )


def listen_unix(
    reactor: Any,
    path: str | bytes,
    factory: IProtocolFactory,
    *,
    backlog: int,
    mode: int | None,
    io: IOEngine,
) -> IListeningPort:
    """
    Listen on the Unix socket ``path``, setting the socket file's ``mode``
    (if given) before any connection can reach it.

    :raises CannotListenError: saying why not.
    """
    if io == _THREADS:
        port = ThreadedPort(
            UNIX,
            path,
            factory,
            backlog,
            reactor,
            port=path,
            bound=(
                (lambda: os.chmod(path, mode))
                if mode is not None and in_filesystem(path)
                else None
            ),
        )
        port.startListening()
        return port
    # Twisted's reactor.listenUNIX builds the same port, with a default mode;
    # like it, the port takes a str path too, though it is annotated bytes.
    file_name: Any = path
    listening = UNIXPort(
        file_name, factory, backlog, 0o666 if mode is None else mode, reactor
    )
    listening.startListening()
    return listening


def connect_unix(
    reactor: Any,
    path: str | bytes,
    factory: IProtocolFactory,
    *,
    timeout: float,
    io: IOEngine,
) -> defer.Deferred[IProtocol]:
    """
    Connect to the Unix socket ``path``.

    :return: a Deferred firing with the connected protocol.
    """
    if io == _THREADS:
        return _connect_through(
            factory,
            lambda wrapping: ThreadedConnector(UNIX, path, wrapping, timeout, reactor),
        )
    connecting: defer.Deferred[IProtocol] = UNIXClientEndpoint(
        reactor, path, timeout=timeout
    ).connect(factory)
    return connecting


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
    port = ThreadedPort(
        HyperVFamily(),
        sockaddr_for(address),
        factory,
        backlog,
        reactor,
        interface=str(address.vm_id),
        port=str(address.service_id),
        allow=allow,
    )
    port.startListening()
    return port


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
    sockaddr = sockaddr_for(address)
    return _connect_through(
        factory,
        lambda wrapping: ThreadedConnector(
            HyperVFamily(suspend), sockaddr, wrapping, timeout, reactor
        ),
    )


def _connect_through(
    factory: IProtocolFactory,
    make_connector: Callable[[IProtocolFactory], Any],
) -> defer.Deferred[IProtocol]:
    """
    Connect the connector ``make_connector`` builds, as Twisted's own client
    endpoints do: through a wrapping factory that fires the Deferred and
    passes ``IHalfCloseableProtocol`` and friends through, with any error
    raised on the way failing the Deferred.
    """
    wrapping = _WrappingFactory(factory)
    try:
        make_connector(wrapping).connect()
    except BaseException:
        return defer.fail()
    return wrapping._onConnection
