"""
The reactor-native AF_VSOCK transport.

AF_VSOCK stream sockets poll like TCP sockets, so, as Twisted's own
``twisted.internet.unix`` does for Unix sockets, each role is a thin subclass
of the TCP class that overrides only what assumes IP: building addresses,
``getHost``/``getPeer``, TCP_NODELAY, and name resolution (there is none).
Reading, writing, producers, half-close and ``startTLS`` are Twisted's own.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import struct
from typing import Any, cast

from twisted.internet import base, error, tcp
from twisted.internet.interfaces import IProtocolFactory, IReactorTime
from twisted.python.failure import Failure

from ._vsock_support import new_vsock_socket
from .address import PORT_ANY, VSockAddress

# Ports below this need root or CAP_NET_BIND_SERVICE, as for TCP.
_FIRST_UNPRIVILEGED_PORT = 1024
# From <linux/vm_sockets.h>: the connect timeout, a struct timeval.
_SO_VM_SOCKETS_CONNECT_TIMEOUT = 6
# What one wake-up reads or sends: a vsock socket's default buffer (Twisted's
# TCP reads 64 KiB and sends 128 KiB, which costs a reactor turn per quarter
# buffer; under emulation those turns, not the copies, bound bulk transfer).
_IO_SIZE = 256 * 1024


class _VSockConnectionCloser:
    """
    Closes a vsock connection as Twisted's TCP connections close, and reads
    and sends :data:`_IO_SIZE` bytes per wake-up.

    For an abort, TCP's ``_closeSocket`` sets ``SO_LINGER`` to zero through
    ``socket.setsockopt``, which CPython refuses for AF_VSOCK sockets (it
    takes only 8-byte integers there): the ``TypeError`` would leave the
    socket open. With a zero linger the kernel closes at once, dropping
    nothing already sent; unsent data, still in Twisted's buffer, is dropped.
    """

    socket: socket.socket
    # tcp.Connection reads bufferSize bytes per doRead; it is also the
    # unsent amount above which a streaming producer is paused.
    bufferSize = _IO_SIZE
    SEND_LIMIT = _IO_SIZE

    def _closeSocket(self, orderly: bool) -> None:
        if orderly:
            super()._closeSocket(orderly)  # type: ignore[misc]
            return
        with contextlib.suppress(OSError):
            linger = struct.pack("ii", 1, 0)
            _libc_setsockopt(self.socket, socket.SOL_SOCKET, socket.SO_LINGER, linger)
        with contextlib.suppress(OSError):
            self.socket.close()


class VSockServer(_VSockConnectionCloser, tcp.Server):
    """
    The server side of an accepted AF_VSOCK connection.
    """

    def getHost(self) -> VSockAddress:
        return VSockAddress(*self.socket.getsockname())

    def getPeer(self) -> VSockAddress:
        return VSockAddress(*cast("tuple[int, int]", self.client))

    def getTcpNoDelay(self) -> bool:
        # vsock has no Nagle algorithm to turn off.
        return False

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


class VSockPort(tcp.Port):
    """
    A listening AF_VSOCK socket.

    ``interface`` holds the CID bound to, so Twisted's ``startListening``
    binds the ``(cid, port)`` pair AF_VSOCK expects.
    """

    transport = VSockServer
    _type = "VSOCK"

    def __init__(
        self,
        port: int,
        factory: IProtocolFactory,
        cid: int,
        backlog: int,
        reactor: Any,
    ) -> None:
        base.BasePort.__init__(self, reactor=reactor)
        # TCP's "port 0 means any free port" maps to vsock's own wildcard.
        self._requested_port = port
        self.port = PORT_ANY if port == 0 else port
        self.interface = cid  # type: ignore[assignment]
        self.factory = factory  # type: ignore[assignment]  # tcp.Port narrows it
        self.backlog = backlog
        self._reuseAddress = False
        self._reusePort = False

    def createInternetSocket(self) -> socket.socket:
        return new_vsock_socket()

    def startListening(self) -> None:
        try:
            super().startListening()
        except error.CannotListenError as e:
            reason = _explain_listen_error(e.socketError, self._requested_port)
            raise error.CannotListenError(self.interface, self.port, reason) from e

    def _buildAddr(self, address: tuple[int, int]) -> VSockAddress:
        return VSockAddress(*address)

    def getHost(self) -> VSockAddress:
        return VSockAddress(*self.socket.getsockname())

    def _logConnectionLostMsg(self) -> None:
        self._logger.info("(VSOCK Port {port} Closed)", port=self._realPortNumber)


def _explain_listen_error(reason: object, port: int) -> object:
    """
    Replace the kernel's terse errors with ones that say what to do.
    """
    if not isinstance(reason, OSError):
        return reason
    if reason.errno == errno.EACCES and port < _FIRST_UNPRIVILEGED_PORT:
        return PermissionError(
            reason.errno,
            f"vsock ports below {_FIRST_UNPRIVILEGED_PORT} need root or "
            "CAP_NET_BIND_SERVICE; choose a higher port or grant the capability",
        )
    if reason.errno == errno.EADDRINUSE:
        return OSError(reason.errno, f"vsock port {port} is already in use")
    if reason.errno == errno.EADDRNOTAVAIL:
        return OSError(
            reason.errno,
            "that CID is not this machine's: listen on CID any, or on the CID "
            "that `hvsock doctor` reports",
        )
    return reason


class VSockClient(_VSockConnectionCloser, tcp.BaseClient):
    """
    The client side of an AF_VSOCK connection.
    """

    def __init__(
        self,
        cid: int,
        port: int,
        connector: VSockConnector,
        reactor: IReactorTime,
        kernel_timeout: float,
    ) -> None:
        self.connector = connector
        self.realAddress = self.addr = (cid, port)
        try:
            skt = new_vsock_socket()
        except OSError as e:
            self._finishInit(None, None, e, reactor)
            return
        _set_kernel_connect_timeout(skt, kernel_timeout)
        self._finishInit(self.doConnect, skt, None, reactor)

    def failIfNotConnected(self, err: BaseException) -> None:
        super().failIfNotConnected(_explain_connect_error(err, self.addr))

    def connectionLost(self, reason: Failure) -> None:
        # The epoll and poll reactors report a refused attempt as a hang-up and
        # never call doConnect, so the socket's pending error is read here.
        if not self.connected and hasattr(self, "socket"):
            code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.failIfNotConnected(
                    error.getConnectError((code, os.strerror(code)))
                )
                return
        super().connectionLost(reason)

    def getHost(self) -> VSockAddress:
        return VSockAddress(*self.socket.getsockname())

    def getPeer(self) -> VSockAddress:
        return VSockAddress(*self.realAddress)

    def getTcpNoDelay(self) -> bool:
        return False

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


def _set_kernel_connect_timeout(skt: socket.socket, seconds: float) -> None:
    """
    Let the kernel wait at least as long as the endpoint does: its own default
    gives up after two seconds, which would cut a longer endpoint timeout short.

    The option takes a ``struct timeval``, but CPython's ``setsockopt`` passes
    only an 8-byte integer for AF_VSOCK sockets, so this goes through libc.
    """
    whole = int(seconds)
    timeval = struct.pack("@ll", whole, int((seconds - whole) * 1_000_000))
    # An older kernel keeps its default; the endpoint's timeout still holds.
    with contextlib.suppress(OSError):
        _libc_setsockopt(skt, skt.family, _SO_VM_SOCKETS_CONNECT_TIMEOUT, timeval)


def _libc_setsockopt(skt: socket.socket, level: int, option: int, value: bytes) -> None:
    """``setsockopt`` with a byte-string value, which CPython refuses for AF_VSOCK."""
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(value, len(value))
    if libc.setsockopt(skt.fileno(), level, option, buffer, len(value)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def kernel_connect_timeout(skt: socket.socket) -> float:
    """The connect timeout the kernel holds for ``skt``, in seconds."""
    libc = ctypes.CDLL(None, use_errno=True)
    size = struct.calcsize("@ll")
    buffer = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    fd = skt.fileno()
    if (
        libc.getsockopt(
            fd, skt.family, _SO_VM_SOCKETS_CONNECT_TIMEOUT, buffer, ctypes.byref(length)
        )
        != 0
    ):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    whole, micro = struct.unpack("@ll", buffer.raw)
    return float(whole + micro / 1_000_000)


def _explain_connect_error(
    err: BaseException, address: tuple[int, int]
) -> BaseException:
    """
    Map AF_VSOCK's connect errors onto the Twisted errors users catch for TCP.
    """
    if not isinstance(err, error.ConnectError) or err.osError is None:
        return err
    cid, port = address
    where = f"vsock CID {cid} port {port}"
    if err.osError == errno.ECONNRESET:
        # AF_VSOCK answers a port nobody listens on with a reset.
        return error.ConnectionRefusedError(err.osError, f"nothing listens on {where}")
    if err.osError == errno.ETIMEDOUT:
        return error.TimeoutError(string=f"the kernel timed out connecting to {where}")
    if err.osError in (errno.ENODEV, errno.ENETUNREACH, errno.EHOSTUNREACH):
        return error.NoRouteError(
            err.osError,
            f"no vsock transport reaches CID {cid} ({os.strerror(err.osError)})",
        )
    return err


class VSockConnector(base.BaseConnector):
    """
    Connects a client factory to an AF_VSOCK address, retrying as Twisted's
    connectors do when the factory asks.
    """

    def __init__(
        self,
        cid: int,
        port: int,
        factory: Any,
        timeout: float,
        reactor: Any,
    ) -> None:
        super().__init__(factory, timeout, reactor)
        self.cid = cid
        self.port = port

    def _makeTransport(self) -> VSockClient:  # type: ignore[override]
        # A little over the endpoint's own timeout, so Twisted's TimeoutError
        # wins the race and the kernel's never cuts it short.
        return VSockClient(self.cid, self.port, self, self.reactor, self.timeout + 1)

    def getDestination(self) -> VSockAddress:
        return VSockAddress(self.cid, self.port)
