"""
Endpoints for the vsock ports of a hyperkit VM (macOS; Docker Desktop,
linuxkit), which hyperkit exposes as Unix sockets in a directory of its own
(the ``path`` of its ``virtio-sock`` device).

- Host to guest: connect to ``<path>/connect`` and write the 18-byte header
  ``"%08x.%08x\\n" % (guest CID, port)``; data follows at once, with no
  answer; a guest port nobody listens on shows up as the end of the data.
- Guest to host: hyperkit connects to ``<path>/00000002.<port as %08x>``,
  where the host listens; no header.

``serverFromString(reactor, "hyperkit:path=<dir>:port=<p>")`` (listen on
``<dir>/00000002.<p hex>``) and ``clientFromString(reactor,
"hyperkit:path=<dir>:port=<p>[:cid=3]")`` build these endpoints through the
``hyperkit`` plugin, whose parsers end this module.
"""

from __future__ import annotations

import os

from twisted.internet import defer
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IReactorFDSet,
    IStreamClientEndpoint,
)
from zope.interface import implementer

from ._checks import IOEngine, check_io, check_timeout
from ._guest_listener import GuestConnectionListener, listener_grammar
from ._handshake import VMMSocket, vmm_client_grammar
from ._options import (
    CID_NOTE,
    ClientStringParser,
    Option,
    ServerStringParser,
    parse_connecting_cid,
)
from ._sockets.unix import check_path_text, check_socket_path
from ._waiting import check_wait
from .address import CID_HOST, check_cid, check_port

__all__ = [
    "GUEST_CID",
    "HyperkitClientEndpoint",
    "HyperkitClientParser",
    "HyperkitServerEndpoint",
    "HyperkitServerParser",
    "connect_socket_path",
    "listen_socket_path",
]

_DIRECTORY = "hyperkit's socket directory"

#: The CID hyperkit gives a guest unless its ``guest_cid`` says otherwise.
GUEST_CID = 3


def connect_socket_path(path: str) -> str:
    """The socket host-to-guest connections go through: ``<path>/connect``."""
    return os.path.join(path, "connect")


def listen_socket_path(path: str, port: int) -> str:
    """
    The socket hyperkit connects to for a guest's connection to the host's
    ``port``: ``<path>/00000002.<port as 8 hex digits>``.
    """
    return os.path.join(path, f"{CID_HOST:08x}.{port:08x}")


class HyperkitServerEndpoint(GuestConnectionListener):
    """
    Accepts the connections a hyperkit guest makes to the host's vsock
    ``port``, by listening on ``<path>/00000002.<port in hex>``.

    A socket file left there by a listener that is gone is replaced; a file
    that is not a socket, or a socket someone still listens on, is not.

    :param reactor: any reactor (``IReactorUNIX`` for the ``reactor`` engine).
    :param path: hyperkit's socket directory (its ``virtio-sock`` ``path``).
    :param port: the vsock port guests connect to.
    :param backlog: how many connections the kernel queues before accepting;
        by default the longest queue it allows (``net.core.somaxconn``).
    :param mode: the permission bits of the socket file; owner-only by default.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :raises ValueError: naming the argument that is out of range, or ``path``
        when the socket path is too long for a Unix socket.
    """

    vmm = "hyperkit"

    def socket_path(self, path: str, port: int) -> str:
        return listen_socket_path(check_path_text(path, _DIRECTORY), port)


@implementer(IStreamClientEndpoint)
class HyperkitClientEndpoint:
    """
    Connects to a hyperkit guest's vsock ``port`` through
    ``<path>/connect``.

    hyperkit sends no answer: the connection succeeds as soon as the header
    is written, and a guest port nobody listens on shows up as the
    connection closing.

    :param reactor: a reactor providing ``IReactorTime`` (and
        ``IReactorUNIX`` for the ``reactor`` engine).
    :param path: hyperkit's socket directory (its ``virtio-sock`` ``path``).
    :param port: the guest's vsock port.
    :param cid: the guest's CID, :data:`GUEST_CID` unless hyperkit was given
        another ``guest_cid``.
    :param timeout: seconds to wait for the Unix connection.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :param wait: keep trying, for up to this many seconds from the first
        attempt, while hyperkit's socket is missing or refuses (hyperkit
        sends no answer, so a guest port nobody listens on yet shows up only
        as the connection closing); by default one attempt.
    :raises ValueError: naming the argument that is out of range, or ``path``
        when the socket path is too long for a Unix socket.
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        path: str,
        port: int,
        cid: int = GUEST_CID,
        timeout: float = 30,
        io: IOEngine | None = None,
        wait: float | None = None,
    ) -> None:
        socket_path = check_socket_path(
            connect_socket_path(check_path_text(path, _DIRECTORY))
        )
        port, cid = check_port(port), check_cid(cid, allow_any=False)
        self._socket = VMMSocket(
            reactor,
            socket_path,
            header=f"{cid:08x}.{port:08x}\n".encode("ascii"),
            check_reply=None,
            peer=f"hyperkit's socket {socket_path!r}",
            timeout=check_timeout(timeout),
            io=check_io(io, reactor),
            wait=check_wait(wait),
        )
        self._port, self._cid = port, cid

    def __repr__(self) -> str:
        where = f"{self._socket.path!r} {self._cid}:{self._port}"
        return f"<HyperkitClientEndpoint {where}>"

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect.

        :return: a Deferred firing with the connected protocol, or failing
            with the Unix socket's ``ConnectError`` (e.g. hyperkit is not
            running) or ``TimeoutError``.
        """
        return self._socket.connect(protocolFactory)


class HyperkitServerParser(ServerStringParser):
    """The ``hyperkit:`` prefix for ``serverFromString``."""

    grammar = listener_grammar("hyperkit", HyperkitServerEndpoint, "<dir>")


class HyperkitClientParser(ClientStringParser):
    """The ``hyperkit:`` prefix for ``clientFromString``."""

    grammar = vmm_client_grammar(
        "hyperkit",
        HyperkitClientEndpoint,
        "<dir>",
        Option("cid", parse_connecting_cid, "<cid>", default=GUEST_CID, note=CID_NOTE),
    )
