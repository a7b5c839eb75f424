"""
Half-close through TLS: Twisted's TLS transport, taught that ``close_notify``
can end one direction only.

Twisted's TLS transport has no ``loseWriteConnection`` of its own (the call
reaches the socket underneath, so the peer sees the stream cut short, not
ended), and it treats the peer's ``close_notify`` as the end of the whole
connection. TLS 1.3 (RFC 8446, section 6.1) lets either side send
``close_notify`` and keep reading, so here:

- ``loseWriteConnection`` sends ``close_notify`` once what was written has
  gone into TLS, then shuts the socket's write side;
- a ``close_notify`` from the peer reaches an ``IHalfCloseableProtocol`` as
  ``readConnectionLost`` when the session is TLS 1.3 or newer, and its own
  writes keep flowing; once both directions have ended, the connection
  closes;
- a protocol that is not half-closeable learns of the peer's
  ``close_notify`` when it would learn of a plain socket's end of file, with
  ``connectionLost``: on a later reactor turn than the data before it, not
  while it has paused reading, and not at all once it has started closing
  (its close then sends everything it wrote). Twisted's TLS ends the
  connection in the same read, so a server such as ``twisted.web``'s lost
  the answer to a request sent with a half-close;
- a stream that ends without ``close_notify`` is a truncation, and ends the
  connection with ``ConnectionLost``, as Twisted's TLS does.

TLS 1.2 (RFC 5246, section 7.2.1) requires a peer's ``close_notify`` to end
the connection, so below TLS 1.3 the peer's half-close ends it, as it does
in Twisted. Everything else (the handshake, buffering, producers) is
Twisted's ``BufferingTLSTransport``, unchanged.

This module needs pyOpenSSL: import it only when TLS is asked for.
"""

from __future__ import annotations

from typing import Any

from OpenSSL.SSL import Connection, WantReadError, ZeroReturnError
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    IReactorTime,
)
from twisted.internet.protocol import connectionDone
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from ._transport import IStreamTransport

__all__ = ["HalfCloseableTLSFactory", "HalfCloseableTLSProtocol"]

# OpenSSL's number for TLS 1.3, as Connection.get_protocol_version gives it.
_TLS_1_3 = 0x0304


class _CloseNotifyWatch:
    """
    The OpenSSL connection as the TLS transport sees it, except that a
    ``close_notify`` its protocol takes as a half-close reads as "no data
    yet" and is recorded, so the transport's read loop stops there.
    """

    def __init__(self, connection: Connection, protocol: HalfCloseableTLSProtocol):
        self._connection = connection
        self._protocol = protocol
        # The calls made for every record go straight to the connection.
        self.send = connection.send
        self.bio_read = connection.bio_read
        self.bio_write = connection.bio_write

    def recv(self, size: int) -> bytes:
        try:
            data: bytes = self._connection.recv(size)
        except ZeroReturnError:
            if not self._protocol._takes_close_notify_as_half_close():
                raise
            self._protocol._peer_sent_close_notify = True
            raise WantReadError() from None
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@implementer(IHalfCloseableProtocol)
class HalfCloseableTLSProtocol(BufferingTLSTransport):
    """
    Twisted's TLS transport, with half-close in both directions (see the
    module's docstring).
    """

    transport: IStreamTransport

    _peer_sent_close_notify = False
    _read_side_closed = False
    _write_side_closing = False
    _write_side_closed = False
    _reading_paused = False
    # For a protocol that is not half-closeable: the peer's close_notify,
    # waiting for the reactor turn where a plain socket would read its end.
    _end_of_peer_data: IDelayedCall | None = None

    def makeConnection(self, transport: Any) -> None:
        super().makeConnection(transport)  # type: ignore[no-untyped-call]
        if self._tlsConnection is not None:
            # The watch stands in for the connection, forwarding all but recv.
            self._tlsConnection = _CloseNotifyWatch(  # type: ignore[assignment]
                self._tlsConnection, self
            )

    def loseWriteConnection(self) -> None:
        """
        Send ``close_notify`` after what was written, then close the write
        side of the connection underneath; reading goes on.
        """
        if self._write_side_closing or self.disconnecting or not self.connected:
            return
        self._write_side_closing = True
        self._aggregator.flush()
        self._close_write_side_when_ready()

    def _close_write_side_when_ready(self) -> None:
        # close_notify must follow the data written before it, and cannot be
        # sent before the handshake is done.
        if (
            not self._write_side_closing
            or self._write_side_closed
            or self.disconnecting
            or self._lostTLSConnection
            or not self._handshakeDone
            or self._appSendBuffer
        ):
            return
        self._write_side_closed = True
        self._shutdownTLS()  # type: ignore[no-untyped-call]
        if not self._read_side_closed:
            self.transport.loseWriteConnection()

    def _checkHandshakeStatus(self) -> None:
        super()._checkHandshakeStatus()  # type: ignore[no-untyped-call]
        self._close_write_side_when_ready()

    def _unbufferPendingWrites(self) -> None:
        super()._unbufferPendingWrites()  # type: ignore[no-untyped-call]
        self._close_write_side_when_ready()

    def _write(self, bytes: bytes) -> None:
        if self._write_side_closed:
            return  # after close_notify, TLS has nothing left to send
        super()._write(bytes)  # type: ignore[no-untyped-call]

    def _takes_close_notify_as_half_close(self) -> bool:
        version: int = self._tlsConnection.get_protocol_version()
        return version >= _TLS_1_3

    def _flushReceiveBIO(self) -> None:
        if self._read_side_closed:
            self._flushSendBIO()  # type: ignore[no-untyped-call]
            return
        super()._flushReceiveBIO()  # type: ignore[no-untyped-call]
        if self._peer_sent_close_notify and not self._read_side_closed:
            self._read_side_closed = True
            if not IHalfCloseableProtocol.providedBy(self.wrappedProtocol):
                self._end_peer_data_later()
                return
            IHalfCloseableProtocol(self.wrappedProtocol).readConnectionLost()
            if self._write_side_closed and self.connected:
                # Both directions have ended: the session is over.
                self.transport.loseConnection()

    def _end_peer_data_later(self) -> None:
        # A plain socket reads its end of file on a later reactor turn than
        # the data before it, and not while reading is paused.
        if self._end_of_peer_data is None and not self._reading_paused:
            clock: IReactorTime = self.factory._clock
            self._end_of_peer_data = clock.callLater(0, self._end_peer_data)

    def _end_peer_data(self) -> None:
        # What Twisted's TLS does on close_notify, and a plain socket on its
        # end of file for a protocol that is not half-closeable: the
        # connection ends. A protocol already closing is left to finish.
        self._end_of_peer_data = None
        if self._reading_paused or self.disconnecting or self._lostTLSConnection:
            return
        self._shutdownTLS()  # type: ignore[no-untyped-call]
        self._tlsShutdownFinished(None)  # type: ignore[no-untyped-call]

    def pauseProducing(self) -> None:
        """
        Stop reading from the connection underneath; for a protocol that is
        not half-closeable, the peer's ``close_notify`` waits too.
        """
        self._reading_paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Read from the connection underneath again."""
        self._reading_paused = False
        self.transport.resumeProducing()
        if self._read_side_closed and not IHalfCloseableProtocol.providedBy(
            self.wrappedProtocol
        ):
            self._end_peer_data_later()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._end_of_peer_data is not None:
            self._end_of_peer_data.cancel()
            self._end_of_peer_data = None
        super().connectionLost(reason)

    def readConnectionLost(self) -> None:
        """
        The connection underneath ended its read side: after the peer's
        ``close_notify`` that is expected; without it, the stream was cut
        short, and the connection ends with ``ConnectionLost``.
        """
        if self._read_side_closed or self._lostTLSConnection:
            return
        self._tlsConnection.bio_shutdown()
        self._flushReceiveBIO()

    def writeConnectionLost(self) -> None:
        """
        The connection underneath closed its write side, after our
        ``close_notify``: tell the protocol, if it asked for half-close.
        """
        if IHalfCloseableProtocol.providedBy(self.wrappedProtocol):
            IHalfCloseableProtocol(self.wrappedProtocol).writeConnectionLost()


class HalfCloseableTLSFactory(TLSMemoryBIOFactory):
    """
    Twisted's ``TLSMemoryBIOFactory``, building
    :class:`HalfCloseableTLSProtocol` transports, and closing a connection
    the wrapped factory declines (its ``buildProtocol`` returns ``None``)
    instead of wrapping nothing.
    """

    protocol = HalfCloseableTLSProtocol

    def buildProtocol(self, addr: IAddress | None) -> Any:
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped)
