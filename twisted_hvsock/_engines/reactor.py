"""
The reactor engine's AF_VSOCK transport: the reactor polls non-blocking
sockets, as it does TCP's.

AF_VSOCK stream sockets poll like TCP sockets, so, as Twisted's own
``twisted.internet.unix`` does for Unix sockets, each role is a thin subclass
of the TCP class that overrides only what assumes IP: building addresses,
``getHost``/``getPeer``, TCP_NODELAY, and name resolution (there is none).
Reading, writing, producers, half-close and ``startTLS`` are Twisted's own.

``SOCK_SEQPACKET`` connections are the same classes with
:class:`~.reactor_seqpacket.MessageConnection` put first, whose reads and
writes keep message boundaries.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable
from typing import Any, cast

from twisted.internet import base, error, tcp, unix
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IReactorTime,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._checks import SocketType
from .._sockets.unix import FileIdentity, remove_socket_file, socket_file_identity
from .._sockets.vsock import (
    VSockListening,
    connected_address,
    explain_connect_error,
    explain_listen_error,
    new_vsock_socket,
    set_buffer_size,
    set_kernel_connect_timeout,
    set_linger_zero,
)
from .._sockets.vsock_client import VSockTarget, bind_source
from ..address import PORT_ANY, VSockAddress
from ._connecting import connect_through
from ._gate import refused_by
from .reactor_seqpacket import MessageConnection, carries_messages

__all__ = [
    "SeqPacketClient",
    "SeqPacketPort",
    "SeqPacketServer",
    "UNIXPort",
    "VSockClient",
    "VSockConnector",
    "VSockPort",
    "VSockServer",
    "connect_unix",
    "connect_vsock",
    "listen_unix",
    "listen_vsock",
]

# What one wake-up reads or sends: a vsock socket's default buffer (Twisted's
# TCP reads 64 KiB and sends 128 KiB, which costs a reactor turn per quarter
# buffer; under emulation those turns, not the copies, bound bulk transfer).
_IO_SIZE = 256 * 1024

_log = Logger()


class _VSockConnection(tcp.Connection):
    """
    Closes a vsock connection as Twisted's TCP connections close, and reads
    and sends :data:`_IO_SIZE` bytes per wake-up.

    For an abort, TCP's ``_closeSocket`` sets ``SO_LINGER`` to zero through
    ``socket.setsockopt``, which CPython refuses for AF_VSOCK sockets (it
    takes only 8-byte integers there): the ``TypeError`` would leave the
    socket open. With a zero linger the kernel closes at once, dropping
    nothing already sent; unsent data, still in Twisted's buffer, is dropped.
    """

    # tcp.Connection reads bufferSize bytes per doRead; it is also the
    # unsent amount above which a streaming producer is paused.
    bufferSize = _IO_SIZE
    SEND_LIMIT = _IO_SIZE
    #: What the connection carries.
    socket_type: SocketType = "stream"

    def getTcpNoDelay(self) -> bool:
        # vsock has no Nagle algorithm to turn off.
        return False

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def write(self, data: bytes) -> None:
        """
        Send ``data`` at once if nothing is waiting to be sent, as asyncio's
        transports do; buffer what the kernel does not take, as Twisted does.

        Twisted's TCP buffers every write until the next reactor turn, which
        costs two ``epoll_ctl`` calls and a turn per reply: most of a small
        round trip under emulation.
        """
        super().write(self._send_now(data))

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        chunks = list(iovec)
        if not all(type(chunk) is bytes for chunk in chunks):
            super().writeSequence(chunks)  # which refuses them
            return
        self.write(b"".join(chunks))

    def _send_now(self, data: bytes) -> bytes:
        """
        Send what the kernel takes of ``data`` now, where that keeps Twisted's
        order and semantics: nothing buffered, not closing or aborting (after
        ``abortConnection`` nothing more may leave), no producer (whose
        pausing depends on buffering), no TLS (which encrypts what it is
        given), and small enough that the rest is cheap to copy.

        :return: what is left to buffer.
        """
        if (
            type(data) is not bytes
            or not data
            or len(data) > _IO_SIZE
            or not self.connected
            or self.disconnecting
            or self._aborting
            or self._writeDisconnected
            or self._writeDisconnecting
            or self.TLS
            or self.producer is not None
            or self._tempDataBuffer
            or self.offset < len(self.dataBuffer)
        ):
            return data
        try:
            sent = self.socket.send(data)
        except OSError:
            # Full (EAGAIN) or broken: buffered, the next doWrite sends it or
            # meets the error and closes as Twisted always does.
            return data
        return data[sent:]

    def _closeSocket(self, orderly: bool) -> None:
        if orderly:
            super()._closeSocket(orderly)
            return
        with contextlib.suppress(OSError):
            set_linger_zero(self.socket)
        with contextlib.suppress(OSError):
            self.socket.close()


class VSockServer(_VSockConnection, tcp.Server):
    """
    The server side of an accepted AF_VSOCK connection.
    """

    def getHost(self) -> VSockAddress:
        return VSockAddress(*connected_address(self.socket))

    def getPeer(self) -> VSockAddress:
        return VSockAddress(*cast("tuple[int, int]", self.client))


class VSockPort(tcp.Port):
    """
    A listening AF_VSOCK socket.

    ``interface`` holds the CID bound to, so Twisted's ``startListening``
    binds the ``(cid, port)`` pair AF_VSOCK expects. ``buffer`` is the
    buffer size of its connections in bytes (``None``: the kernel's), set on
    the listening socket: accepted sockets inherit it.
    """

    transport: type[VSockServer] = VSockServer
    _type = "VSOCK"
    #: What the connections it accepts carry.
    socket_type: SocketType = "stream"

    def __init__(
        self,
        port: int,
        factory: IProtocolFactory,
        cid: int,
        backlog: int,
        reactor: Any,
        buffer: int | None = None,
    ) -> None:
        base.BasePort.__init__(self, reactor=reactor)
        self.buffer = buffer
        # TCP's "port 0 means any free port" maps to vsock's own wildcard.
        self._requested_port = port
        self.port = PORT_ANY if port == 0 else port
        self.interface = cid  # type: ignore[assignment]
        self.factory = factory  # type: ignore[assignment]  # tcp.Port narrows it
        self.backlog = backlog
        self._reuseAddress = False
        self._reusePort = False

    @classmethod
    def adopting(
        cls,
        skt: socket.socket,
        factory: IProtocolFactory,
        reactor: Any,
    ) -> VSockPort:
        """
        A port that accepts on ``skt``, an AF_VSOCK socket that listens
        already (an inherited one), through Twisted's own support for a
        pre-existing listening socket; the port owns ``skt``.
        """
        cid, port = skt.getsockname()
        adopted = cls(port, factory, cid, 0, reactor)
        skt.setblocking(False)
        adopted._preexistingSocket = skt
        return adopted

    @property
    def refused(self) -> int:
        """How many connections the allow-list refused (``_gate``)."""
        return refused_by(self.factory)

    def createInternetSocket(self) -> socket.socket:
        skt = new_vsock_socket(self.socket_type)
        set_buffer_size(skt, self.buffer)
        return skt

    def startListening(self) -> None:
        try:
            super().startListening()
        except error.CannotListenError as e:
            reason = explain_listen_error(e.socketError, self._requested_port)
            raise error.CannotListenError(self.interface, self.port, reason) from e

    def _buildAddr(self, address: tuple[int, int]) -> VSockAddress:
        return VSockAddress(*address)

    def getHost(self) -> VSockAddress:
        return VSockAddress(*self.socket.getsockname())

    def _logConnectionLostMsg(self) -> None:
        self._logger.info("(VSOCK Port {port} Closed)", port=self._realPortNumber)


class VSockClient(_VSockConnection, tcp.BaseClient):
    """
    The client side of an AF_VSOCK connection.

    :param target: where to connect, and how: with ``to_host``, the
        socket's ``connect_ex``, which Twisted's ``doConnect`` calls, sets
        ``VMADDR_FLAG_TO_HOST``.
    """

    def __init__(
        self,
        target: VSockTarget,
        connector: VSockConnector,
        reactor: IReactorTime,
        kernel_timeout: float,
    ) -> None:
        self.connector = connector
        self.realAddress = self.addr = (target.cid, target.port)
        self._to_host = to_host = target.to_host
        bind = target.bind
        try:
            skt = new_vsock_socket(self.socket_type, to_host)
        except OSError as e:
            self._finishInit(None, None, e, reactor)
            return
        try:
            set_kernel_connect_timeout(skt, kernel_timeout)
            set_buffer_size(skt, target.buffer)
            if bind is not None:
                bind_source(skt, bind)
        except Exception as e:
            skt.close()
            self._finishInit(None, None, e, reactor)
            return
        self._finishInit(self.doConnect, skt, None, reactor)

    def failIfNotConnected(self, err: BaseException) -> None:
        super().failIfNotConnected(
            explain_connect_error(err, self.addr, self.socket_type, self._to_host)
        )

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
        return VSockAddress(*connected_address(self.socket))

    def getPeer(self) -> VSockAddress:
        return VSockAddress(*self.realAddress)


class VSockConnector(base.BaseConnector):
    """
    Connects a client factory to an AF_VSOCK address, retrying as Twisted's
    connectors do when the factory asks.
    """

    def __init__(
        self, target: VSockTarget, factory: Any, timeout: float, reactor: Any
    ) -> None:
        super().__init__(factory, timeout, reactor)
        self.target = target

    def _makeTransport(self) -> VSockClient:  # type: ignore[override]
        # A little over the endpoint's own timeout, so Twisted's TimeoutError
        # wins the race and the kernel's never cuts it short.
        client = _CLIENTS[self.target.socket_type]
        return client(self.target, self, self.reactor, self.timeout + 1)

    def getDestination(self) -> VSockAddress:
        return VSockAddress(self.target.cid, self.target.port)


@carries_messages
class SeqPacketServer(MessageConnection, VSockServer):
    """The server side of an accepted AF_VSOCK ``SOCK_SEQPACKET`` connection."""

    socket_type = "seqpacket"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._start_messages()


class SeqPacketPort(VSockPort):
    """A listening AF_VSOCK ``SOCK_SEQPACKET`` socket."""

    transport = SeqPacketServer
    socket_type = "seqpacket"


@carries_messages
class SeqPacketClient(MessageConnection, VSockClient):
    """The client side of an AF_VSOCK ``SOCK_SEQPACKET`` connection."""

    socket_type = "seqpacket"

    def _connectDone(self) -> None:
        self._start_messages()
        super()._connectDone()


# Each socket type's classes.
_PORTS: dict[SocketType, type[VSockPort]] = {
    "stream": VSockPort,
    "seqpacket": SeqPacketPort,
}
_CLIENTS: dict[SocketType, type[VSockClient]] = {
    "stream": VSockClient,
    "seqpacket": SeqPacketClient,
}


class UNIXPort(unix.Port):
    """
    Twisted's Unix listening port, except that on closing it removes its
    socket file only if that is still the socket it bound: a file put over
    the path while it listened (a regular file, another program's socket)
    is not its to delete.
    """

    _bound_file: FileIdentity | None = None

    def __init__(self, fileName: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(fileName, *args, **kwargs)
        self._socket_path = fileName

    def startListening(self) -> None:
        super().startListening()
        self._bound_file = socket_file_identity(self._socket_path)

    def connectionLost(self, reason: Failure) -> None:
        # What Twisted's Unix port does on closing, but for the removal.
        remove_socket_file(self._socket_path, self._bound_file)
        if self.lockFile is not None:
            self.lockFile.unlock()
        tcp.Port.connectionLost(self, reason)


# The engine's face (_engines.Engine): the same calls as the thread engine's.


def listen_vsock(
    reactor: Any, factory: IProtocolFactory, *, where: VSockListening
) -> VSockPort:
    """Listen, or accept on the listening socket ``where`` adopts."""
    port_type = _PORTS[where.socket_type]
    if where.adopted is None:
        listening = port_type(
            where.port, factory, where.cid, where.backlog, reactor, where.buffer
        )
    else:
        listening = port_type.adopting(where.adopted, factory, reactor)
    listening.startListening()
    return listening


def connect_vsock(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    target: VSockTarget,
    timeout: float,
) -> Deferred[IProtocol]:
    """Connect to ``target``."""
    return connect_through(
        factory, lambda wrapping: VSockConnector(target, wrapping, timeout, reactor)
    )


def listen_unix(
    reactor: Any,
    factory: IProtocolFactory,
    *,
    path: str | bytes,
    backlog: int,
    mode: int | None,
) -> UNIXPort:
    """Listen on the Unix socket ``path``, its file's ``mode`` set first."""
    # Twisted's reactor.listenUNIX builds the same port, with a default mode;
    # like it, the port takes a str path too, though it is annotated bytes.
    file_name: Any = path
    listening = UNIXPort(
        file_name, factory, backlog, 0o666 if mode is None else mode, reactor
    )
    listening.startListening()
    return listening


def connect_unix(
    reactor: Any, factory: IProtocolFactory, *, path: str | bytes, timeout: float
) -> Deferred[IProtocol]:
    """Connect to the Unix socket ``path``, with Twisted's own client."""
    connecting: Deferred[IProtocol] = UNIXClientEndpoint(
        reactor, path, timeout=timeout
    ).connect(factory)
    return connecting
