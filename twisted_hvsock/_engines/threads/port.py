"""
The thread engine's server side: a listening socket whose ``accept`` runs
on a thread of its own, and the connections it accepts.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    ILoggingContext,
    IProtocolFactory,
)
from twisted.logger import Logger
from zope.interface import implementer

from .._gate import refused_by
from .families import SocketFamily
from .plumbing import (
    ACCEPT_CHECK_INTERVAL,
    SHUTDOWN_WAIT,
    SocketCalls,
    hand_to_reactor,
    join_threads,
    log_prefix,
    registry,
)
from .transport import ThreadedTransport

__all__ = ["ThreadedPort", "ThreadedServer"]

_log = Logger()


class ThreadedServer(ThreadedTransport):
    """
    The server side of an accepted connection.

    :param peer: the socket address ``accept`` gave.
    :param sessionno: this connection's number on its port, for log prefixes.
    """

    def __init__(
        self,
        skt: socket.socket,
        peer: Any,
        family: SocketFamily,
        sessionno: int,
        reactor: Any,
    ) -> None:
        address = family.address(peer)
        super().__init__(skt, family, reactor, address, f",{sessionno},{address}")
        self._host = family.local_address(skt)
        self.sessionno = sessionno

    def __repr__(self) -> str:
        return f"<{self._family.name} threaded connection from {self._peer}>"


@implementer(IListeningPort, ILoggingContext)
class ThreadedPort:
    """
    A listening socket whose ``accept`` runs on a thread of its own.

    :param sockaddr: what to bind.
    :param interface: what ``CannotListenError`` names as the interface.
    :param port: what ``CannotListenError`` names as the port.
    :param bound: called once the socket is bound, before it listens (to set
        a socket file's mode while no connection can reach it yet).
    :param adopted: a socket that listens already (an inherited one), to
        accept on instead of binding ``sockaddr``; the port owns it.
    """

    def __init__(
        self,
        family: SocketFamily,
        sockaddr: Any,
        factory: IProtocolFactory,
        backlog: int,
        reactor: Any,
        *,
        interface: object = "",
        port: object = None,
        bound: Callable[[], None] | None = None,
        adopted: socket.socket | None = None,
    ) -> None:
        self._family = family
        self._adopted = adopted
        self._bound = bound
        self._sockaddr = sockaddr
        self.factory = factory
        self.backlog = backlog
        self.reactor = reactor
        self._interface = interface
        self._port = sockaddr if port is None else port
        self._sessionno = 0
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        # Accepted sockets the reactor has not taken yet, under _lock.
        self._lock = threading.Lock()
        self._accepted: deque[tuple[socket.socket, Any]] = deque()
        self._accepted_posted = False
        self._stopped: list[defer.Deferred[None]] = []
        self._listening = False
        self._host: IAddress | None = None
        self._bound_file: object = None

    @property
    def refused(self) -> int:
        """How many connections the allow-list refused (``_gate``)."""
        return refused_by(self.factory)

    def __repr__(self) -> str:
        where = self._host if self._host is not None else self._sockaddr
        return f"<{self._family.name} threaded port on {where}>"

    def startListening(self) -> None:
        """
        Bind, listen and start accepting (or, for an ``adopted`` socket,
        start accepting on it).

        :raises CannotListenError: saying why not.
        """
        skt = self._adopt() if self._adopted is not None else self._bind_and_listen()
        self.socket = skt
        self._calls = SocketCalls(skt, self._family.close_cancels_blocked_calls)
        self._registry = registry(self.reactor)
        self._registry.add(self)
        self._listening = True
        self.factory.doStart()
        _log.info(
            "{prefix} starting on {address}",
            prefix=self._logPrefix(),
            address=self._host,
        )
        self._thread = threading.Thread(
            target=self._accept_loop,
            name=f"hvsock {self._family.name} accept",
            daemon=True,
        )
        self._thread.start()

    def _adopt(self) -> socket.socket:
        """The socket given listening already, made ready for the accept thread."""
        skt, self._adopted = self._adopted, None
        assert skt is not None
        try:
            skt.setblocking(True)
            if not self._family.accept_wakes_on_shutdown:
                self._family.set_accept_timeout(skt, ACCEPT_CHECK_INTERVAL)
            self._host = self._family.address(skt.getsockname())
        except OSError as e:
            skt.close()
            raise error.CannotListenError(self._interface, self._port, e) from e
        return skt

    def _bind_and_listen(self) -> socket.socket:
        try:
            skt = self._family.new_socket()
        except OSError as e:
            raise error.CannotListenError(self._interface, self._port, e) from e
        bound = False
        try:
            skt.bind(self._sockaddr)
            bound = True
            self._bound_file = self._family.listener_bound(self._sockaddr)
            if self._bound is not None:
                self._bound()
            skt.listen(self.backlog)
            if not self._family.accept_wakes_on_shutdown:
                self._family.set_accept_timeout(skt, ACCEPT_CHECK_INTERVAL)
            self._host = self._family.address(skt.getsockname())
        except BaseException as e:
            # Whatever failed between socket() and a listening port, leave
            # neither the descriptor nor a socket file this port bound.
            skt.close()
            if bound:
                self._family.listener_closed(self._sockaddr, self._bound_file)
            if not isinstance(e, OSError):
                raise
            reason = self._family.listen_error(e, self._sockaddr)
            raise error.CannotListenError(self._interface, self._port, reason) from e
        return skt

    def _logPrefix(self) -> str:
        return log_prefix(self.factory)

    def logPrefix(self) -> str:
        return self._logPrefix()

    def _accept_loop(self) -> None:
        try:
            while not self._stop_requested.is_set():
                try:
                    skt, peer = self._calls.call(self.socket.accept)
                except (BlockingIOError, InterruptedError):
                    continue  # the periodic look at _stop_requested
                except OSError as e:
                    if self._stop_requested.is_set():
                        return
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
                        # Out of descriptors or memory for now: as Twisted's
                        # ports do, go on accepting once some are freed.
                        _log.warn(
                            "{prefix} could not accept: {error}",
                            prefix=self._logPrefix(),
                            error=e,
                        )
                        self._stop_requested.wait(ACCEPT_CHECK_INTERVAL)
                        continue
                    if e.errno == errno.ECONNABORTED:
                        continue
                    hand_to_reactor(self.reactor, self._accept_failed, e)
                    return
                with self._lock:
                    self._accepted.append((skt, peer))
                    post = not self._accepted_posted
                    self._accepted_posted = True
                if post:
                    hand_to_reactor(self.reactor, self._take_accepted)
        finally:
            hand_to_reactor(self.reactor, self._accept_ended)

    def _take_accepted(self) -> None:
        with self._lock:
            accepted, self._accepted = self._accepted, deque()
            self._accepted_posted = False
        for skt, peer in accepted:
            self._start_connection(skt, peer)

    def _close_accepted(self) -> None:
        """Close what was accepted but never handed to a protocol."""
        with self._lock:
            accepted, self._accepted = self._accepted, deque()
        for skt, _ in accepted:
            skt.close()

    def _start_connection(self, skt: socket.socket, peer: Any) -> None:
        if self._stop_requested.is_set():
            skt.close()
            return
        address = self._family.address(peer)
        try:
            # An accepted socket does not inherit the listener's accept
            # timeout (the kernel gives it a fresh one), so none is reset here.
            skt.setblocking(True)
            self._sessionno += 1
            protocol = self.factory.buildProtocol(address)
        except BaseException:
            _log.failure(
                "{prefix} could not accept a connection", prefix=self._logPrefix()
            )
            skt.close()
            return
        if protocol is None:
            skt.close()
            return
        transport = ThreadedServer(
            skt, peer, self._family, self._sessionno, self.reactor
        )
        self._registry.add(transport)
        transport.start_io(protocol)

    def _accept_failed(self, err: OSError) -> None:
        _log.error(
            "{prefix} stopped accepting: {error}", prefix=self._logPrefix(), error=err
        )
        self.stopListening()

    def _accept_ended(self) -> None:
        if self._stop_requested.is_set():
            self._finish_stop()

    def stopListening(self) -> defer.Deferred[None]:
        """
        Stop accepting and close the listening socket.

        :return: a Deferred that fires once the accept thread has ended.
        """
        if not self._listening:
            return defer.succeed(None)
        stopped: defer.Deferred[None] = defer.Deferred()
        self._stopped.append(stopped)
        if not self._stop_requested.is_set():
            self._stop_requested.set()
            self._calls.quietly(self.socket.shutdown, socket.SHUT_RDWR)
            self._calls.close()
        return stopped

    loseConnection = stopListening

    def _finish_stop(self) -> None:
        if not self._listening:
            return
        self._listening = False
        if self._thread is not None:
            join_threads([self._thread], time.monotonic() + SHUTDOWN_WAIT)
            self._thread = None
        self._registry.discard(self)
        self._close_accepted()
        self._family.listener_closed(self._sockaddr, self._bound_file)
        _log.info(
            "({family} port {address} closed)",
            family=self._family.name,
            address=self._host,
        )
        self.factory.doStop()
        waiting, self._stopped = self._stopped, []
        for stopped in waiting:
            stopped.callback(None)

    def shut_down(self, deadline: float) -> None:
        self.stopListening()
        if self._thread is not None:
            join_threads([self._thread], deadline)
        self._finish_stop()

    def getHost(self) -> IAddress:
        """The address listened on, with the port the kernel chose."""
        if self._host is None:
            raise error.NotListeningError()
        return self._host
