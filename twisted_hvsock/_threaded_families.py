"""
The address families the thread-backed engine runs over: Linux AF_VSOCK and
Unix sockets (which let the host test the engine on real sockets).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from typing import Any

from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import IAddress

from ._threaded import SocketFamily
from ._vsock_native import (
    _explain_connect_error,
    _explain_listen_error,
    _libc_setsockopt,
    _set_kernel_connect_timeout,
)
from ._vsock_support import new_vsock_socket
from .address import PORT_ANY, VSockAddress

__all__ = ["UNIX", "VSOCK"]


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))


class _VSockFamily(SocketFamily):
    """
    AF_VSOCK. CPython's ``setsockopt`` takes only 8-byte integers for these
    sockets, so options with other shapes go through libc; and ``shutdown``
    on a listening vsock socket fails with ENOTCONN without waking
    ``accept``, so accept threads look for a stop between receive timeouts.
    """

    name = "VSOCK"
    accept_wakes_on_shutdown = False

    def new_socket(self) -> socket.socket:
        skt = new_vsock_socket()
        skt.setblocking(True)
        return skt

    def address(self, sockaddr: Any) -> IAddress:
        cid, port = sockaddr
        return VSockAddress(cid, port)

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        # A little over the endpoint's own timeout, so Twisted's TimeoutError
        # wins the race and the kernel's two-second default never cuts it short.
        if timeout is not None:
            _set_kernel_connect_timeout(skt, timeout + 1)

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        return _explain_connect_error(err, sockaddr)

    def listen_error(self, err: OSError, sockaddr: Any) -> object:
        _, port = sockaddr
        return _explain_listen_error(err, 0 if port == PORT_ANY else port)

    def set_linger_zero(self, skt: socket.socket) -> None:
        linger = struct.pack("ii", 1, 0)
        _libc_setsockopt(skt, socket.SOL_SOCKET, socket.SO_LINGER, linger)

    def set_accept_timeout(self, skt: socket.socket, seconds: float) -> None:
        _libc_setsockopt(skt, socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))


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
        # A Unix connect blocks only while the listener's backlog is full,
        # and gives up after the send timeout: a little over the endpoint's,
        # so that Twisted's TimeoutError wins the race.
        if timeout is not None:
            skt.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(timeout + 1))

    def connected(self, skt: socket.socket) -> None:
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(0))

    def listener_closed(self, sockaddr: Any) -> None:
        if isinstance(sockaddr, (str, bytes)) and sockaddr[:1] not in ("\0", b"\0"):
            with contextlib.suppress(OSError):
                os.unlink(sockaddr)


#: AF_VSOCK (Linux).
VSOCK: SocketFamily = _VSockFamily()
#: AF_UNIX stream sockets.
UNIX: SocketFamily = _UNIXFamily()
