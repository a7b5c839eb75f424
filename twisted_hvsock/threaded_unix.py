"""
Unix-socket endpoints on the thread-backed I/O engine: the same transport
``io="threads"`` gives vsock endpoints, over a socket family every POSIX host
has, so that the engine can be used (and tested) on real sockets anywhere.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IReactorCore,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._checks import check_backlog, check_mode, check_path, check_timeout
from ._engines import engine

__all__ = ["ThreadedUNIXClientEndpoint", "ThreadedUNIXServerEndpoint"]


@implementer(IStreamServerEndpoint)
class ThreadedUNIXServerEndpoint:
    """
    Listens on a Unix socket with the thread-backed engine: the same
    transport ``io="threads"`` gives vsock endpoints, over a socket family
    every POSIX host has.

    :param reactor: any reactor.
    :param path: the socket file to create (removed again when the port
        stops), or a name in the abstract namespace starting with NUL.
    :param backlog: how many connections the kernel queues before accepting;
        by default the longest queue it allows (``net.core.somaxconn``).
    :param mode: the permission bits of the socket file, set before it
        listens; by default, those the umask leaves.
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(
        self,
        reactor: IReactorCore,
        path: str | bytes,
        backlog: int | None = None,
        mode: int | None = None,
    ) -> None:
        self._reactor = reactor
        self._path = check_path(path)
        self._backlog = check_backlog(backlog)
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
        return defer.execute(
            engine("threads").listen_unix,
            self._reactor,
            protocolFactory,
            path=self._path,
            backlog=self._backlog,
            mode=self._mode,
        )


@implementer(IStreamClientEndpoint)
class ThreadedUNIXClientEndpoint:
    """
    Connects to a Unix socket with the thread-backed engine.

    :param reactor: a reactor providing ``IReactorTime``.
    :param path: the socket to connect to.
    :param timeout: seconds to wait for the connection.
    :raises ValueError: naming the argument that is out of range.
    """

    def __init__(
        self, reactor: IReactorCore, path: str | bytes, timeout: float = 30
    ) -> None:
        self._reactor = reactor
        self._path = check_path(path)
        self._timeout = check_timeout(timeout)

    def __repr__(self) -> str:
        return f"<ThreadedUNIXClientEndpoint {self._path!r}>"

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect.

        :return: a Deferred firing with the connected protocol, or failing
            with ``ConnectionRefusedError``, ``TimeoutError`` or another
            ``ConnectError``.
        """
        return engine("threads").connect_unix(
            self._reactor,
            protocolFactory,
            path=self._path,
            timeout=self._timeout,
        )
