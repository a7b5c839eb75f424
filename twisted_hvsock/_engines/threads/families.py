"""
The address families the thread engine runs over: Linux AF_VSOCK, Windows
AF_HYPERV, and Unix sockets (which let the host test the engine on real
sockets), and AF_VSOCK's ``SOCK_SEQPACKET``, which carries messages. Each is
what the engine needs to know about a family, built on that family's facts
in ``_sockets``.
"""

from __future__ import annotations

import errno
import socket
import uuid
from typing import Any

from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import IAddress

from ..._checks import SocketType
from ..._sockets import LINGER_ZERO, hyperv, unix, vsock
from ..._sockets.vsock_client import SourcePort, VSockTarget, bind_source
from ...address import PORT_ANY, VSockAddress
from ...hyperv_ids import HyperVAddress

__all__ = [
    "UNIX",
    "VSOCK",
    "VSOCK_SEQPACKET",
    "HyperVFamily",
    "SocketFamily",
    "vsock_client_family",
    "vsock_listening_family",
]


class SocketFamily:
    """
    What the engine needs to know about one address family. The base class
    suits families whose calls all behave like TCP's; subclasses override
    what differs.

    :ivar name: the family as it appears in log prefixes, e.g. ``"VSOCK"``.
    :ivar accept_wakes_on_shutdown: whether ``shutdown()`` on a listening
        socket ends a blocked ``accept`` (true for AF_UNIX, not AF_VSOCK).
    :ivar close_cancels_blocked_calls: whether closing a socket ends the
        calls other threads are blocked in, as ``closesocket`` does on
        Windows; such sockets are closed at once to stop their threads,
        where ``shutdown()`` might not wake them.
    :ivar sends_without_blocking: whether one ``send`` on a blocking socket
        can be made not to block (``MSG_DONTWAIT``), so that the reactor
        thread may send small writes itself instead of waking the writer.
    :ivar messages: whether a connection carries messages, each ``send`` one
        and each ``recv`` one whole (``SOCK_SEQPACKET``), not a stream.
    """

    name = "SOCKET"
    accept_wakes_on_shutdown = True
    close_cancels_blocked_calls = False
    sends_without_blocking = hasattr(socket, "MSG_DONTWAIT")
    messages = False

    def new_socket(self) -> socket.socket:
        """A new blocking stream socket of this family."""
        raise NotImplementedError

    def address(self, sockaddr: Any) -> IAddress:
        """The ``IAddress`` for a socket address of this family."""
        raise NotImplementedError

    def local_address(self, skt: socket.socket) -> IAddress:
        """The ``IAddress`` a connected socket of this family is bound to."""
        return self.address(skt.getsockname())

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        """Make ``connect`` give up after ``timeout`` seconds, if it can."""

    def connected(self, skt: socket.socket) -> None:
        """Undo what :meth:`prepare_connect` set that must not stay."""

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        """The Twisted error a failed ``connect`` to ``sockaddr`` reports."""
        return err

    def listen_error(self, err: OSError, sockaddr: Any) -> object:
        """The reason ``CannotListenError`` gives for a failed bind/listen."""
        return err

    def set_linger_zero(self, skt: socket.socket) -> None:
        """Make ``close`` drop unsent data at once (``SO_LINGER`` zero)."""
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)

    def set_accept_timeout(self, skt: socket.socket, seconds: float) -> None:
        """Make a blocked ``accept`` return after ``seconds`` (0: never)."""
        raise NotImplementedError

    def message_limit(self, skt: socket.socket) -> int:
        """For :attr:`messages`: the longest message a connection takes."""
        raise NotImplementedError

    def receive(self, skt: socket.socket, size: int) -> bytes:
        """
        What one ``recv`` of at most ``size`` bytes gives: ``b""`` at the
        connection's end.
        """
        return skt.recv(size)

    def listener_bound(self, sockaddr: Any) -> object:
        """
        Note what binding to ``sockaddr`` created, for :meth:`listener_closed`
        (called right after ``bind``).
        """
        return None

    def listener_closed(self, sockaddr: Any, bound: object) -> None:
        """
        Clean up after a listening socket bound to ``sockaddr`` closed;
        ``bound`` is what :meth:`listener_bound` returned.
        """


class _VSockFamily(SocketFamily):
    """
    AF_VSOCK. ``shutdown`` on a listening vsock socket fails with ENOTCONN
    without waking ``accept``, so accept threads look for a stop between
    receive timeouts.

    :param bind: for a client, the source port to bind before connecting.
    :param to_host: for a client, connect with ``VMADDR_FLAG_TO_HOST``.
    :param buffer: the connection's buffer size in bytes, ``None`` for the
        kernel's (a listening socket's accepted ones inherit it).
    """

    name = "VSOCK"
    accept_wakes_on_shutdown = False
    socket_type: SocketType = "stream"

    def __init__(
        self,
        bind: SourcePort | None = None,
        to_host: bool = False,
        buffer: int | None = None,
    ) -> None:
        self.bind = bind
        self.to_host = to_host
        self.buffer = buffer

    def new_socket(self) -> socket.socket:
        skt = vsock.new_vsock_socket(self.socket_type, self.to_host)
        vsock.set_buffer_size(skt, self.buffer)
        skt.setblocking(True)
        return skt

    def address(self, sockaddr: Any) -> IAddress:
        cid, port = sockaddr
        return VSockAddress(cid, port)

    def local_address(self, skt: socket.socket) -> IAddress:
        return VSockAddress(*vsock.connected_address(skt))

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        # A little over the endpoint's own timeout, so Twisted's TimeoutError
        # wins the race and the kernel's two-second default never cuts it short.
        if timeout is not None:
            vsock.set_kernel_connect_timeout(skt, timeout + 1)
        if self.bind is not None:
            bind_source(skt, self.bind)

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        return vsock.explain_connect_error(
            err, sockaddr, self.socket_type, self.to_host
        )

    def listen_error(self, err: OSError, sockaddr: Any) -> object:
        _, port = sockaddr
        return vsock.explain_listen_error(err, 0 if port == PORT_ANY else port)

    def set_linger_zero(self, skt: socket.socket) -> None:
        vsock.set_linger_zero(skt)

    def set_accept_timeout(self, skt: socket.socket, seconds: float) -> None:
        vsock.set_receive_timeout(skt, seconds)


class _VSockSeqPacketFamily(_VSockFamily):
    """
    AF_VSOCK's ``SOCK_SEQPACKET``. A non-blocking send can queue part of a
    message and fail (``EAGAIN``), and the next message then completes it,
    so every send blocks (``sends_without_blocking`` is off), on the writer.
    """

    sends_without_blocking = False
    messages = True
    socket_type: SocketType = "seqpacket"

    def message_limit(self, skt: socket.socket) -> int:
        return vsock.buffer_size(skt)

    def receive(self, skt: socket.socket, size: int) -> bytes:
        # A message is taken whole, whatever size the reader asks for:
        # sized to the buffer as it is now, which the kernel keeps every
        # message within; one cut short anyway (the buffer lowered while it
        # waited) is not handed on.
        limit = vsock.buffer_size(skt)
        data, _, flags, _ = skt.recvmsg(limit)
        if flags & socket.MSG_TRUNC:
            raise OSError(errno.EMSGSIZE, str(vsock.MessageCutShort(limit)))
        return data


class _UNIXFamily(SocketFamily):
    """
    AF_UNIX stream sockets, addressed by path. As Twisted's Unix ports do,
    a port removes its socket file when it stops.
    """

    name = "UNIX"

    def new_socket(self) -> socket.socket:
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def address(self, sockaddr: Any) -> IAddress:
        # An unbound client socket has the empty name.
        return UNIXAddress(sockaddr or None)

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        # A little over the endpoint's timeout, so that Twisted's
        # TimeoutError wins the race.
        if timeout is not None:
            unix.set_send_timeout(skt, timeout + 1)

    def connected(self, skt: socket.socket) -> None:
        unix.set_send_timeout(skt, 0)

    def listener_bound(self, sockaddr: Any) -> object:
        return unix.socket_file_identity(sockaddr)

    def listener_closed(self, sockaddr: Any, bound: object) -> None:
        # Only the socket file this port bound: one put over it since stays.
        if isinstance(bound, tuple):
            unix.remove_socket_file(sockaddr, bound)


class HyperVFamily(SocketFamily):
    """
    Windows' AF_HYPERV. These sockets cannot be polled, and on Windows
    closing a socket cancels the calls other threads are blocked in, which
    is how their threads are stopped.

    :param suspend: keep connections open while the VM is paused
        (``HVSOCKET_CONNECTED_SUSPEND``).
    """

    name = "HYPERV"
    close_cancels_blocked_calls = True
    # Winsock has no MSG_DONTWAIT, and these sockets cannot be polled.
    sends_without_blocking = False

    def __init__(self, suspend: bool = False) -> None:
        self.suspend = suspend

    def new_socket(self) -> socket.socket:
        skt: socket.socket = hyperv.new_hyperv_socket()
        return skt

    def address(self, sockaddr: Any) -> IAddress:
        vm_id, service_id = sockaddr
        return HyperVAddress(uuid.UUID(vm_id), uuid.UUID(service_id))

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        hyperv.prepare_connect(skt, timeout, self.suspend)

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        return hyperv.explain_connect_error(err, sockaddr)

    def listen_error(self, err: OSError, sockaddr: Any) -> object:
        return hyperv.explain_listen_error(err, sockaddr)

    def set_linger_zero(self, skt: socket.socket) -> None:
        hyperv.set_linger_zero(skt)


#: AF_VSOCK (Linux).
VSOCK: SocketFamily = _VSockFamily()
#: AF_VSOCK's SOCK_SEQPACKET (Linux 5.14 and later).
VSOCK_SEQPACKET: SocketFamily = _VSockSeqPacketFamily()
#: AF_UNIX stream sockets.
UNIX: SocketFamily = _UNIXFamily()

#: AF_VSOCK's family for each socket type.
_VSOCK_FAMILIES: dict[SocketType, type[_VSockFamily]] = {
    "stream": _VSockFamily,
    "seqpacket": _VSockSeqPacketFamily,
}


def vsock_client_family(target: VSockTarget) -> SocketFamily:
    """
    AF_VSOCK of the target's socket type for one client: bound to its
    source port before it connects, if it names one; connecting with
    ``VMADDR_FLAG_TO_HOST`` if it asks.
    """
    return _VSOCK_FAMILIES[target.socket_type](
        target.bind, target.to_host, target.buffer
    )


def vsock_listening_family(socket_type: SocketType, buffer: int | None) -> SocketFamily:
    """AF_VSOCK of ``socket_type`` for one listener whose connections get
    ``buffer`` bytes of buffer (``None``: the kernel's default)."""
    return _VSOCK_FAMILIES[socket_type](buffer=buffer)
