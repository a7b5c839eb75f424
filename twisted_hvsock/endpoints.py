"""
Twisted endpoints for Linux AF_VSOCK sockets, and Unix-socket endpoints for
the thread-backed I/O engine.

Most users never import this module: ``serverFromString(reactor,
"vsock:port=5000")`` and ``clientFromString(reactor, "vsock:cid=3:port=5000")``
build these endpoints through the ``vsock`` plugin.

Every endpoint runs its sockets on one of two I/O engines (see
``docs/io-engines.rst``): ``"reactor"``, the reactor polls non-blocking
sockets as it does TCP's; ``"threads"``, blocking sockets with each
connection's reads and writes on threads of its own, for sockets that cannot
be polled.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import _WrappingFactory
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IReactorFDSet,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._threaded import ThreadedConnector, ThreadedPort
from ._threaded_families import UNIX, VSOCK
from ._vsock_native import VSockConnector, VSockPort
from .address import CID_ANY, PORT_ANY, VSockAddress, check_cid, check_port

__all__ = [
    "IO_ENGINES",
    "ThreadedUNIXClientEndpoint",
    "ThreadedUNIXServerEndpoint",
    "VSockClientEndpoint",
    "VSockServerEndpoint",
    "check_mode",
]

#: The accepted values of ``io``: the reactor polls the socket, or blocking
#: calls run on threads of their own.
IO_ENGINES = ("reactor", "threads")


def _check_backlog(backlog: object) -> int:
    if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
        raise ValueError(f"backlog must be a positive integer, got {backlog!r}")
    return backlog


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < float("inf")
    ):
        raise ValueError(
            f"timeout must be a positive, finite number of seconds, got {timeout!r}"
        )
    return float(timeout)


def _check_io(io: object, reactor: object) -> str:
    """
    The I/O engine to use: ``io`` if given, else the reactor's polling
    wherever the reactor can poll sockets (every POSIX reactor), else threads.
    """
    if io is None:
        return "reactor" if IReactorFDSet.providedBy(reactor) else "threads"
    if io not in IO_ENGINES:
        raise ValueError(f"io must be one of {', '.join(IO_ENGINES)}, got {io!r}")
    return str(io)


def check_mode(mode: object) -> int:
    """
    Check that ``mode`` is a file's permission bits (0 to 0o777) and return it.

    :raises ValueError: naming ``mode`` and the accepted range.
    """
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ValueError(
            f"mode must be permission bits from 0 to 0o777 (e.g. 0o600), got {mode!r}"
        )
    return mode


def _check_path(path: object) -> str | bytes:
    if not isinstance(path, (str, bytes)) or not path:
        raise ValueError(f"path must be a non-empty str or bytes, got {path!r}")
    return path


def _connect(
    protocolFactory: IProtocolFactory,
    make_connector: Callable[[IProtocolFactory], Any],
) -> defer.Deferred[IProtocol]:
    """
    Connect as Twisted's own client endpoints do: through a wrapping factory
    that fires the Deferred and passes IHalfCloseableProtocol and friends
    through, with any error raised on the way failing the Deferred.
    """
    wrapping = _WrappingFactory(protocolFactory)
    try:
        make_connector(wrapping).connect()
    except BaseException:
        return defer.fail()
    return wrapping._onConnection


@implementer(IStreamServerEndpoint)
class VSockServerEndpoint:
    """
    Listens for AF_VSOCK connections.

    :param reactor: a reactor providing ``IReactorFDSet`` (every POSIX reactor).
    :param port: the port to listen on; 0 lets the kernel choose one, which
        the listening port's ``getHost()`` reports.
    :param cid: the CID to listen on; the default, :data:`CID_ANY`, accepts
        connections addressed to any of this machine's CIDs.
    :param backlog: how many connections the kernel queues before accepting.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(
        self,
        reactor: Any,
        port: int,
        cid: int = CID_ANY,
        backlog: int = 50,
        io: str | None = None,
    ) -> None:
        self._reactor = reactor
        self._port = check_port(port)
        self._cid = check_cid(cid, allow_any=True)
        self._backlog = _check_backlog(backlog)
        self._io = _check_io(io, reactor)

    def __repr__(self) -> str:
        return f"<VSockServerEndpoint {VSockAddress(self._cid, self._port)}>"

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening.

        :return: a Deferred firing with the listening port, or failing with
            ``CannotListenError`` that says why.
        """
        return defer.execute(self._listen, protocolFactory)

    def _listen(self, factory: IProtocolFactory) -> IListeningPort:
        port: VSockPort | ThreadedPort
        if self._io == "threads":
            port = ThreadedPort(
                VSOCK,
                (self._cid, PORT_ANY if self._port == 0 else self._port),
                factory,
                self._backlog,
                self._reactor,
                interface=self._cid,
                port=self._port,
            )
        else:
            port = VSockPort(
                self._port, factory, self._cid, self._backlog, self._reactor
            )
        port.startListening()
        return port


@implementer(IStreamClientEndpoint)
class VSockClientEndpoint:
    """
    Connects to an AF_VSOCK listener.

    :param reactor: a reactor providing ``IReactorFDSet`` and ``IReactorTime``.
    :param cid: the CID to connect to (:data:`CID_HOST` from a guest, the
        guest's CID from a host, :data:`CID_LOCAL` for this machine).
    :param port: the port to connect to.
    :param timeout: seconds to wait for the connection.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(
        self,
        reactor: Any,
        cid: int,
        port: int,
        timeout: float = 30,
        io: str | None = None,
    ) -> None:
        self._reactor = reactor
        self._cid = check_cid(cid, allow_any=False)
        self._port = check_port(port)
        self._timeout = _check_timeout(timeout)
        self._io = _check_io(io, reactor)

    def __repr__(self) -> str:
        return f"<VSockClientEndpoint {VSockAddress(self._cid, self._port)}>"

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect.

        :return: a Deferred firing with the connected protocol, or failing
            with ``ConnectionRefusedError`` (nothing listens there),
            ``TimeoutError``, ``NoRouteError`` (no transport reaches that CID)
            or ``VSockUnavailableError`` (no AF_VSOCK on this machine).
        """
        return _connect(protocolFactory, self._connector)

    def _connector(self, factory: IProtocolFactory) -> Any:
        if self._io == "threads":
            return ThreadedConnector(
                VSOCK, (self._cid, self._port), factory, self._timeout, self._reactor
            )
        return VSockConnector(
            self._cid, self._port, factory, self._timeout, self._reactor
        )


@implementer(IStreamServerEndpoint)
class ThreadedUNIXServerEndpoint:
    """
    Listens on a Unix socket with the thread-backed engine: the same
    transport ``io="threads"`` gives vsock endpoints, over a socket family
    every POSIX host has.

    :param reactor: any reactor.
    :param path: the socket file to create (removed again when the port
        stops), or a name in the abstract namespace starting with NUL.
    :param backlog: how many connections the kernel queues before accepting.
    :param mode: the permission bits of the socket file, set before it
        listens; by default, those the umask leaves.
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(
        self,
        reactor: Any,
        path: str | bytes,
        backlog: int = 50,
        mode: int | None = None,
    ) -> None:
        self._reactor = reactor
        self._path = _check_path(path)
        self._backlog = _check_backlog(backlog)
        self._mode = None if mode is None else check_mode(mode)

    def __repr__(self) -> str:
        return f"<ThreadedUNIXServerEndpoint {self._path!r}>"

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening.

        :return: a Deferred firing with the listening port, or failing with
            ``CannotListenError`` that says why.
        """
        return defer.execute(self._listen, protocolFactory)

    def _listen(self, factory: IProtocolFactory) -> IListeningPort:
        path, mode = self._path, self._mode
        in_filesystem = path[:1] not in ("\0", b"\0")
        port = ThreadedPort(
            UNIX,
            path,
            factory,
            self._backlog,
            self._reactor,
            port=path,
            bound=(
                (lambda: os.chmod(path, mode))
                if mode is not None and in_filesystem
                else None
            ),
        )
        port.startListening()
        return port


@implementer(IStreamClientEndpoint)
class ThreadedUNIXClientEndpoint:
    """
    Connects to a Unix socket with the thread-backed engine.

    :param reactor: a reactor providing ``IReactorTime``.
    :param path: the socket to connect to.
    :param timeout: seconds to wait for the connection.
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(self, reactor: Any, path: str | bytes, timeout: float = 30) -> None:
        self._reactor = reactor
        self._path = _check_path(path)
        self._timeout = _check_timeout(timeout)

    def __repr__(self) -> str:
        return f"<ThreadedUNIXClientEndpoint {self._path!r}>"

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect.

        :return: a Deferred firing with the connected protocol, or failing
            with ``ConnectionRefusedError``, ``TimeoutError`` or another
            ``ConnectError``.
        """
        return _connect(
            protocolFactory,
            lambda factory: ThreadedConnector(
                UNIX, self._path, factory, self._timeout, self._reactor
            ),
        )
