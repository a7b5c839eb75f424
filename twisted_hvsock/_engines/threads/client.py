"""
The thread engine's client side: a connect on a thread of its own, then the
connection, and the connector that retries as Twisted's do.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import base, error
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from .families import SocketFamily
from .plumbing import connect_error_for, hand_to_reactor
from .transport import ThreadedTransport

__all__ = ["ThreadedClient", "ThreadedConnector"]

_log = Logger()


class ThreadedClient(ThreadedTransport):
    """
    The client side of a connection, and, until it is connected, the attempt
    to connect: ``connect`` blocks on a thread of its own, as
    ``tcp.BaseClient`` would poll, and reports to a ``BaseConnector``.

    :param skt: a new socket of ``family``, which this client owns.
    """

    _tlsClientDefault = True

    def __init__(
        self,
        skt: socket.socket,
        family: SocketFamily,
        sockaddr: Any,
        connector: base.BaseConnector,
        timeout: float | None,
        reactor: Any,
    ) -> None:
        super().__init__(skt, family, reactor, family.address(sockaddr), ",client")
        self.connector = connector
        self._sockaddr = sockaddr
        self._registry.add(self)
        try:
            family.prepare_connect(skt, timeout)
        except Exception as e:
            # failIfNotConnected closes the socket: nothing is left behind.
            reactor.callLater(0, self.failIfNotConnected, e)
            return
        self._threads.start(self._connect, "connect")

    def _connect(self) -> None:
        try:
            self._calls.call(self.socket.connect, self._sockaddr)
        except OSError as e:
            outcome: OSError | None = e
        else:
            outcome = None
        if self._threads.is_stopping():
            return
        hand_to_reactor(self.reactor, self._connect_done, outcome)

    def _connect_done(self, outcome: OSError | None) -> None:
        if self._closing or self.disconnected:
            return
        if outcome is not None:
            self.failIfNotConnected(connect_error_for(outcome))
            return
        try:
            self._family.connected(self.socket)
            self._host = self._family.local_address(self.socket)
        except OSError as e:
            self.failIfNotConnected(connect_error_for(e))
            return
        try:
            protocol = self.connector.buildProtocol(self.getPeer())
        except BaseException:
            _log.failure("the client factory could not build a protocol")
            self.failIfNotConnected(error.ConnectError(string="buildProtocol failed"))
            return
        if protocol is None:
            self.connected = True
            self.protocol = Protocol()
            self._reader.start()
            self.loseConnection()
            return
        self.start_io(protocol)

    def failIfNotConnected(self, err: BaseException) -> None:
        """
        Give up connecting, telling the connector ``err`` (mapped onto the
        error Twisted users catch). The connect thread, if blocked, ends
        when the kernel gives up; the socket closes then.
        """
        if self.connected or self.disconnected or self._closing:
            return
        err = self._family.connect_error(err, self._sockaddr)
        self._closing = True
        self._threads.abandon()
        self._calls.quietly(self.socket.shutdown, socket.SHUT_RDWR)
        self._calls.close()
        self._registry.discard(self)
        self.disconnected = True
        self.connector.connectionFailed(Failure(err))

    def stopConnecting(self) -> None:
        """Stop an attempt still going (``IConnector.stopConnecting``)."""
        self.failIfNotConnected(error.UserError())

    def _connection_lost(self, reason: Failure) -> None:
        super()._connection_lost(reason)
        self.connector.connectionLost(reason)

    def shut_down(self, deadline: float) -> None:
        if not self.connected:
            self.failIfNotConnected(error.ConnectError(string="the reactor shut down"))
            return
        super().shut_down(deadline)

    def __repr__(self) -> str:
        return f"<{self._family.name} threaded client to {self._peer}>"


class _NoSocket:
    """
    An attempt to connect that could not make its socket: it fails on the
    next reactor turn, as ``tcp.BaseClient`` does, not within ``connect``.
    """

    def __init__(
        self,
        family: SocketFamily,
        sockaddr: Any,
        connector: base.BaseConnector,
        err: OSError,
        reactor: Any,
    ) -> None:
        self._family = family
        self._sockaddr = sockaddr
        self.connector = connector
        self._failed = False
        reactor.callLater(0, self.failIfNotConnected, err)

    def failIfNotConnected(self, err: BaseException) -> None:
        """Tell the connector ``err``, once: the first failure wins."""
        if self._failed:
            return
        self._failed = True
        err = self._family.connect_error(err, self._sockaddr)
        self.connector.connectionFailed(Failure(err))

    def stopConnecting(self) -> None:
        """Stop the attempt (``IConnector.stopConnecting``)."""
        self.failIfNotConnected(error.UserError())

    def __repr__(self) -> str:
        return f"<{self._family.name} threaded client without a socket>"


class ThreadedConnector(base.BaseConnector):
    """
    Connects a client factory through a :class:`ThreadedClient`, retrying
    when the factory asks, as Twisted's connectors do.
    """

    def __init__(
        self,
        family: SocketFamily,
        sockaddr: Any,
        factory: Any,
        timeout: float,
        reactor: Any,
    ) -> None:
        super().__init__(factory, timeout, reactor)
        self._family = family
        self._sockaddr = sockaddr

    def _makeTransport(self) -> ThreadedClient | _NoSocket:  # type: ignore[override]
        try:
            skt = self._family.new_socket()
        except OSError as e:
            return _NoSocket(self._family, self._sockaddr, self, e, self.reactor)
        return ThreadedClient(
            skt, self._family, self._sockaddr, self, self.timeout, self.reactor
        )

    def getDestination(self) -> IAddress:
        return self._family.address(self._sockaddr)
