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
- a protocol that is not half-closeable can only learn of the peer's
  ``close_notify`` through ``connectionLost``, so it learns of it once it is
  quiet (see :mod:`._end_when_quiet`): not while it is still writing its
  answer or has paused reading, and not at all if it closes first. Twisted's
  TLS ends the connection in the read that brought the ``close_notify``, so
  a server such as ``twisted.web``'s lost the answer to a request sent with
  a half-close;
- a stream that ends without ``close_notify`` is a truncation, and ends the
  connection with ``ConnectionLost``, as Twisted's TLS does, here
  :class:`TLSStreamCutShort`, which says so in words.

TLS 1.2 (RFC 5246, section 7.2.1) requires a peer's ``close_notify`` to end
the connection, so below TLS 1.3 the peer's half-close ends it, as it does
in Twisted. Everything else (the handshake, buffering, producers, which
are only watched for their resumes) is Twisted's ``BufferingTLSTransport``.

This module needs pyOpenSSL: import it only when TLS is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from OpenSSL.SSL import Connection, WantReadError, ZeroReturnError
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IProducer,
    IProtocol,
)
from twisted.internet.protocol import connectionDone
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from ._end_when_quiet import EndWhenQuiet, ResumeWatch
from ._transport import IStreamTransport

__all__ = ["HalfCloseableTLSFactory", "HalfCloseableTLSProtocol", "TLSStreamCutShort"]

# OpenSSL's number for TLS 1.3, as Connection.get_protocol_version gives it.
_TLS_1_3 = 0x0304


class TLSStreamCutShort(ConnectionLost):
    """
    The peer's TLS stream ended without ``close_notify``: what arrived may
    be only the start of what was sent.
    """

    def __str__(self) -> str:
        return (
            "the peer's TLS stream ended without close_notify, so what arrived "
            "may be cut short"
        )


class _CloseNotifyWatch:
    """
    The OpenSSL connection as the TLS transport sees it, except that a
    ``close_notify`` that is a half-close (TLS 1.3) reads as "no data yet"
    and is recorded, so the transport's read loop stops there.
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
    _stream_ended = False

    def __init__(
        self,
        factory: TLSMemoryBIOFactory,
        wrappedProtocol: IProtocol,
        _connectWrapped: bool = True,
    ) -> None:
        super().__init__(factory, wrappedProtocol, _connectWrapped)
        # For a protocol that is not half-closeable: the peer's close_notify,
        # held until the protocol is quiet.
        self._end_when_quiet = EndWhenQuiet(
            factory._clock, self._cannot_end_yet, self._end_peer_data
        )
        aggregate = self._aggregator.write

        def write(data: bytes) -> None:
            self._end_when_quiet.wrote()
            aggregate(data)

        self.write = write  # type: ignore[method-assign]

    def writeSequence(self, sequence: Iterable[bytes]) -> None:
        self._end_when_quiet.wrote()
        super().writeSequence(sequence)

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
            self._flushSendBIO()
            return
        super()._flushReceiveBIO()  # type: ignore[no-untyped-call]
        if self._peer_sent_close_notify and not self._read_side_closed:
            self._read_side_closed = True
            if not IHalfCloseableProtocol.providedBy(self.wrappedProtocol):
                self._end_when_quiet.start()
                return
            IHalfCloseableProtocol(self.wrappedProtocol).readConnectionLost()
            if self._write_side_closed and self.connected:
                # Both directions have ended: the session is over.
                self.transport.loseConnection()

    def _cannot_end_yet(self) -> bool:
        producer = self._producer
        return bool(
            self._reading_paused
            or self.disconnecting
            or self._lostTLSConnection
            # Its producer is paused by a full buffer: it is still answering.
            or (producer is not None and producer._producerPaused)
        )

    def _end_peer_data(self) -> None:
        # What Twisted's TLS does on close_notify, after what was written.
        self._aggregator.flush()
        self._shutdownTLS()  # type: ignore[no-untyped-call]
        self._tlsShutdownFinished(None)

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Register ``producer`` as Twisted's TLS does; its resumes also tell a
        held ``close_notify`` to look again whether the protocol is quiet.
        """
        watched = ResumeWatch(producer, self._end_when_quiet.look_again)
        super().registerProducer(watched, streaming)  # type: ignore[no-untyped-call]

    def pauseProducing(self) -> None:
        """
        Stop reading from the connection underneath; a held
        ``close_notify`` waits too, as a plain socket's end of file would.
        """
        self._reading_paused = True
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Read from the connection underneath again."""
        self._reading_paused = False
        self.transport.resumeProducing()
        self._end_when_quiet.look_again()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._end_when_quiet.cancel()
        super().connectionLost(reason)

    def readConnectionLost(self) -> None:
        """
        The connection underneath ended its read side: after the peer's
        ``close_notify`` that is expected; without it, the stream was cut
        short, and the connection ends with :class:`TLSStreamCutShort`.
        """
        if self._read_side_closed or self._lostTLSConnection:
            return
        self._stream_ended = True
        self._tlsConnection.bio_shutdown()
        self._flushReceiveBIO()

    def _tlsShutdownFinished(self, reason: Failure | None) -> None:
        if reason is not None and self._stream_ended and self._reason is None:
            # An error reading what was left, once the stream had ended: the
            # reason the protocol is given (Twisted keeps the first one).
            self._reason = Failure(TLSStreamCutShort())  # type: ignore[no-untyped-call]
        super()._tlsShutdownFinished(reason)  # type: ignore[no-untyped-call]

    def _flushSendBIO(self) -> None:
        # Closing a connection whose write side is already shut (after our
        # close_notify) ends it at once, inside Twisted's read loop, which
        # then flushes a connection that is gone.
        if self._tlsConnection is not None:
            super()._flushSendBIO()  # type: ignore[no-untyped-call]

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
