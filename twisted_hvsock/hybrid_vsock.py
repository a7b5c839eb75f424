"""
Endpoints for hybrid vsock, the Unix-socket face of a guest's vsock device
that Firecracker, Cloud Hypervisor and vhost-device-vsock give the host.

- Host to guest: connect to the VMM's socket (Firecracker's ``uds_path``),
  write ``CONNECT <port>\\n``, and wait for the answer line ``OK <n>\\n``
  (Firecracker and Cloud Hypervisor send the host side's port, from 2**30
  up; vhost-device-vsock the guest's port). The socket closes without an
  answer when nothing listens on the guest's port.
- Guest to host: the VMM connects to ``<uds_path>_<port>`` (the port in
  decimal), where the host listens; no header.

``serverFromString(reactor, "hybridvsock:path=<uds_path>:port=<p>")`` and
``clientFromString`` with the same string build these endpoints through the
``hybridvsock`` plugin, whose parsers end this module.
"""

from __future__ import annotations

import re

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
    ClientStringParser,
    ServerStringParser,
)
from ._sockets.unix import check_path_text, check_socket_path
from ._waiting import check_wait
from .address import check_port

__all__ = [
    "HybridVSockClientEndpoint",
    "HybridVSockClientParser",
    "HybridVSockServerEndpoint",
    "HybridVSockServerParser",
    "listen_socket_path",
]

_UDS_PATH = "the VMM's vsock socket"
_OK = re.compile(rb"OK ([0-9]{1,10})")


def listen_socket_path(path: str, port: int) -> str:
    """
    The socket the VMM connects to for a guest's connection to the host's
    ``port``: ``<path>_<port>``.
    """
    return f"{path}_{port}"


def _check_answer(line: bytes) -> str | None:
    if _OK.fullmatch(line) is None:
        return "expected OK <port>"
    return None


class HybridVSockServerEndpoint(GuestConnectionListener):
    """
    Accepts the connections a Firecracker or Cloud Hypervisor guest makes to
    the host's vsock ``port``, by listening on ``<path>_<port>``.

    A socket file left there by a listener that is gone is replaced; a file
    that is not a socket, or a socket someone still listens on, is not.

    :param reactor: any reactor (``IReactorUNIX`` for the ``reactor`` engine).
    :param path: the VMM's vsock socket (Firecracker's ``uds_path``).
    :param port: the vsock port guests connect to.
    :param backlog: how many connections the kernel queues before accepting;
        by default the longest queue it allows (``net.core.somaxconn``).
    :param mode: the permission bits of the socket file; owner-only by default.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :raises ValueError: naming the argument that is out of range, or ``path``
        when the socket path is too long for a Unix socket.
    """

    def socket_path(self, path: str, port: int) -> str:
        return listen_socket_path(check_path_text(path, _UDS_PATH), port)


@implementer(IStreamClientEndpoint)
class HybridVSockClientEndpoint:
    """
    Connects to a Firecracker or Cloud Hypervisor guest's vsock ``port``
    through the VMM's socket ``path``.

    :param reactor: a reactor providing ``IReactorTime`` (and
        ``IReactorUNIX`` for the ``reactor`` engine).
    :param path: the VMM's vsock socket (Firecracker's ``uds_path``).
    :param port: the guest's vsock port.
    :param timeout: seconds to wait for the Unix connection, and again for
        the VMM's answer.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :param wait: keep trying, for up to this many seconds from the first
        attempt, while the VMM's socket is missing or refuses, or the VMM
        refuses the guest's port (nothing listens there yet); by default one
        attempt.
    :raises ValueError: naming the argument that is out of range, or ``path``
        when it is too long for a Unix socket.
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        path: str,
        port: int,
        timeout: float = 30,
        io: IOEngine | None = None,
        wait: float | None = None,
    ) -> None:
        socket_path = check_socket_path(check_path_text(path, _UDS_PATH))
        port = check_port(port)
        self._socket = VMMSocket(
            reactor,
            socket_path,
            header=f"CONNECT {port}\n".encode("ascii"),
            check_reply=_check_answer,
            peer=f"the VMM socket {socket_path!r} (guest port {port})",
            timeout=check_timeout(timeout),
            io=check_io(io, reactor),
            wait=check_wait(wait),
        )
        self._port = port

    def __repr__(self) -> str:
        return f"<HybridVSockClientEndpoint {self._socket.path!r} port {self._port}>"

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect, and wait for the VMM to accept.

        :return: a Deferred firing with the connected protocol once the VMM
            answered ``OK``; failing with ``ConnectionRefusedError`` when it
            closes without answering (nothing listens on the guest's port)
            or answers anything else, ``TimeoutError`` when it does not
            answer within the timeout, or the Unix socket's ``ConnectError``
            (e.g. the VMM is not running).
        """
        return self._socket.connect(protocolFactory)


class HybridVSockServerParser(ServerStringParser):
    """The ``hybridvsock:`` prefix for ``serverFromString``."""

    grammar = listener_grammar("hybridvsock", HybridVSockServerEndpoint, "<uds_path>")


class HybridVSockClientParser(ClientStringParser):
    """The ``hybridvsock:`` prefix for ``clientFromString``."""

    grammar = vmm_client_grammar("hybridvsock", HybridVSockClientEndpoint, "<uds_path>")
