"""
The address families the thread-backed engine runs over: Linux AF_VSOCK,
Windows AF_HYPERV, and Unix sockets (which let the host test the engine on
real sockets).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import socket
import struct
import uuid
from typing import Any

from twisted.internet import error
from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import IAddress

from . import _hyperv_socket
from ._threaded import SocketFamily
from ._vsock_native import (
    _explain_connect_error,
    _explain_listen_error,
    _libc_setsockopt,
    _set_kernel_connect_timeout,
)
from ._vsock_support import new_vsock_socket
from .address import PORT_ANY, VSockAddress
from .hyperv_ids import HyperVAddress

__all__ = ["UNIX", "VSOCK", "HyperVFamily"]


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


# Winsock's error numbers, as Windows reports them in OSError.errno (CPython
# turns WSAEACCES into EACCES there).
_WSAEACCES = 10013
_WSAEADDRINUSE = 10048
_WSAENETUNREACH = 10051
_WSAETIMEDOUT = 10060
_WSAECONNREFUSED = 10061
_WSAEHOSTUNREACH = 10065


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

    def __init__(self, suspend: bool = False) -> None:
        self.suspend = suspend

    def new_socket(self) -> socket.socket:
        skt: socket.socket = _hyperv_socket.new_hyperv_socket()
        return skt

    def address(self, sockaddr: Any) -> IAddress:
        vm_id, service_id = sockaddr
        return HyperVAddress(uuid.UUID(vm_id), uuid.UUID(service_id))

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        api = _hyperv_socket.socket_api()
        # The endpoint's own timer enforces the timeout whatever happens here;
        # telling Windows too ends the blocked connect when it fires.
        option = getattr(api, "HVSOCKET_CONNECT_TIMEOUT", None)
        if timeout is not None and option is not None:
            limit = getattr(api, "HVSOCKET_CONNECT_TIMEOUT_MAX", 300_000)
            milliseconds = min(math.ceil(timeout * 1000), limit)
            # A Windows that refuses the option still has the endpoint's timer.
            with contextlib.suppress(OSError):
                skt.setsockopt(api.HV_PROTOCOL_RAW, option, milliseconds)
        if self.suspend:
            skt.setsockopt(api.HV_PROTOCOL_RAW, api.HVSOCKET_CONNECTED_SUSPEND, 1)

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        if not isinstance(err, error.ConnectError) or err.osError is None:
            return err
        where = f"hvsock://{sockaddr[0]}/{sockaddr[1]}"
        code = err.osError
        if code == _WSAECONNREFUSED:
            return error.ConnectionRefusedError(
                code, f"nothing listens on {where} (is the service running?)"
            )
        if code == _WSAETIMEDOUT:
            return error.TimeoutError(string=f"timed out connecting to {where}")
        if code in (_WSAENETUNREACH, _WSAEHOSTUNREACH):
            return error.NoRouteError(
                code, f"no VM {sockaddr[0]} is running, or it has no Hyper-V sockets"
            )
        if code in (_WSAEACCES, errno.EACCES):
            return error.ConnectError(
                code,
                f"access denied connecting to {where}: register the service on "
                "the host first (hvsock register, as Administrator)",
            )
        return err

    def listen_error(self, err: OSError, sockaddr: Any) -> object:
        where = f"hvsock://{sockaddr[0]}/{sockaddr[1]}"
        if err.errno == _WSAEADDRINUSE:
            return f"another socket already listens on {where}"
        if err.errno in (_WSAEACCES, errno.EACCES):
            return (
                f"access denied listening on {where}: register the service on "
                "the host first (hvsock register, as Administrator)"
            )
        return err

    def set_linger_zero(self, skt: socket.socket) -> None:
        api = _hyperv_socket.socket_api()
        # Windows' struct linger is two unsigned shorts.
        skt.setsockopt(api.SOL_SOCKET, api.SO_LINGER, struct.pack("<HH", 1, 0))


#: AF_VSOCK (Linux).
VSOCK: SocketFamily = _VSockFamily()
#: AF_UNIX stream sockets.
UNIX: SocketFamily = _UNIXFamily()
