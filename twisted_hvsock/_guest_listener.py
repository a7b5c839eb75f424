"""
The base of the endpoints that accept a guest's connections through a socket
file the VMM connects to (hyperkit, Firecracker, Cloud Hypervisor).
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorFDSet,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._checks import IOEngine, check_backlog, check_io, check_mode
from ._engines import engine
from ._options import BACKLOG, IO, MODE, PORT, Grammar, path_option
from ._sockets.unix import OWNER_ONLY, check_socket_path, remove_stale_socket
from .address import check_port
from .tls import SERVER_TLS

__all__ = ["GuestConnectionListener", "listener_grammar"]


@implementer(IStreamServerEndpoint)
class GuestConnectionListener:
    """
    The base of the endpoints that accept a guest's connections to one host
    vsock port by listening on the socket file the VMM connects to for that
    port. Subclasses say which file (:meth:`socket_path`).

    A socket file left there by a listener that is gone is replaced; a file
    that is not a socket, or a socket someone still listens on, is not.
    """

    #: Who would choose a port 0, in the error that refuses it.
    vmm = "the VMM"

    def __init__(
        self,
        reactor: IReactorFDSet,
        path: str,
        port: int,
        backlog: int | None = None,
        mode: int = OWNER_ONLY,
        io: IOEngine | None = None,
    ) -> None:
        self._reactor = reactor
        self._port = check_port(port)
        if self._port == 0:
            raise ValueError(f"port must be given: {self.vmm} has no port 0 to choose")
        self._path = check_socket_path(self.socket_path(path, self._port))
        self._backlog = check_backlog(backlog)
        self._mode = check_mode(mode)
        self._io = check_io(io, reactor)

    def socket_path(self, path: str, port: int) -> str:
        """The socket file to listen on for ``port``, given the ``path`` option."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path!r}>"

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening, replacing a stale socket file, with the file's mode
        set before any connection can reach it.

        :return: a Deferred firing with the listening port, or failing with
            ``CannotListenError`` that says why.
        """
        return defer.execute(self._listen, protocolFactory)

    def _listen(self, factory: IProtocolFactory) -> IListeningPort:
        remove_stale_socket(self._path)
        return engine(self._io).listen_unix(
            self._reactor,
            factory,
            path=self._path,
            backlog=self._backlog,
            mode=self._mode,
        )


def listener_grammar(
    prefix: str, endpoint: type[GuestConnectionListener], path_form: str
) -> Grammar:
    """
    The server string of a VMM-socket backend: where the VMM's sockets are
    (``path_form`` in messages), the guest's port, the listener's options
    and TLS, the same for every such backend.
    """
    return Grammar(
        prefix, endpoint, (path_option(path_form), PORT, BACKLOG, MODE, IO), SERVER_TLS
    )
