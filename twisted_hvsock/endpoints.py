"""
Twisted endpoints for Linux AF_VSOCK sockets.

Most users never import this module: ``serverFromString(reactor,
"vsock:port=5000")`` and ``clientFromString(reactor, "vsock:cid=3:port=5000")``
build these endpoints through the ``vsock`` plugin.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import _WrappingFactory
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._vsock_native import VSockConnector, VSockPort
from .address import CID_ANY, VSockAddress, check_cid, check_port

__all__ = ["VSockClientEndpoint", "VSockServerEndpoint"]


def _check_backlog(backlog: object) -> int:
    if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
        raise ValueError(f"backlog must be a positive integer, got {backlog!r}")
    return backlog


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not timeout > 0
    ):
        raise ValueError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )
    return float(timeout)


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
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(
        self, reactor: Any, port: int, cid: int = CID_ANY, backlog: int = 50
    ) -> None:
        self._reactor = reactor
        self._port = check_port(port)
        self._cid = check_cid(cid, allow_any=True)
        self._backlog = _check_backlog(backlog)

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
        port = VSockPort(self._port, factory, self._cid, self._backlog, self._reactor)
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
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(self, reactor: Any, cid: int, port: int, timeout: float = 30) -> None:
        self._reactor = reactor
        self._cid = check_cid(cid, allow_any=False)
        self._port = check_port(port)
        self._timeout = _check_timeout(timeout)

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
        # Twisted's own endpoints use this factory to fire the Deferred and
        # to pass IHalfCloseableProtocol and friends through.
        wrapping = _WrappingFactory(protocolFactory)
        try:
            connector = VSockConnector(
                self._cid, self._port, wrapping, self._timeout, self._reactor
            )
            connector.connect()
        except BaseException:
            return defer.fail()
        return wrapping._onConnection
