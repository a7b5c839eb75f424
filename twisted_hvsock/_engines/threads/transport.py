"""
A thread-engine connection as its protocol sees it: the Twisted transport,
one object made of parts, deciding on the reactor thread what the protocol
is told.

The parts: :class:`.SocketCalls` (the socket, closed once no thread is in a
call on it), :class:`.ConnectionThreads` (the lock and the stop), a
:class:`.Reader` and a :class:`.Writer` (each a thread and its queue), and,
once ``startTLS`` put it there (:mod:`.tls`), Twisted's TLS layer between
the transport and its protocol; :class:`.Delivery` tells the protocol
what the reader received. The threads reach the transport only
through the callbacks it gives the parts, on the reactor thread; the state
set in :meth:`ThreadedTransport.__init__` is the reactor thread's alone.

Closing: the reactor thread sets the stop flag, drops what the threads hold,
and wakes any thread blocked in the kernel with ``shutdown()``. The
descriptor is closed only once no thread is inside a call on it, and
``connectionLost`` runs once every thread of the connection has ended, so
no thread and no descriptor outlives it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any, cast

from twisted.internet import error
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableDescriptor,
    IHalfCloseableProtocol,
    ILoggingContext,
    IProducer,
    IProtocol,
    IPullProducer,
    IPushProducer,
    ISystemHandle,
    ITCPTransport,
)
from twisted.logger import Logger
from twisted.python import log
from twisted.python.failure import Failure
from zope.interface import alsoProvides, implementer

from ...errors import MessageTooLongError
from ...interfaces import IMessageTransport
from .._producers import pause_if_full
from .connection_threads import ConnectionThreads
from .delivery import Delivery
from .families import SocketFamily
from .plumbing import BUFFER_SIZE, SocketCalls, log_prefix, registry
from .reader import Reader
from .writer import Writer

__all__ = ["ThreadedTransport"]

_log = Logger()


@implementer(
    ITCPTransport,
    ISystemHandle,
    IConsumer,
    IPushProducer,
    IHalfCloseableDescriptor,
    ILoggingContext,
)
class ThreadedTransport:
    """
    A connected blocking socket whose reads and writes run on threads.

    The Twisted-facing methods follow ``abstract.FileDescriptor`` and
    ``tcp.Connection`` so that protocols see what Twisted's own transports
    show them. A role adds what is its own: :class:`.ThreadedServer`,
    :class:`.ThreadedClient`.

    :param peer: the address of the other end.
    :param log_suffix: what follows the protocol's name in log prefixes.

    :ivar bufferSize: unsent bytes above which a streaming producer is
        paused; as on Twisted's transports, it may be changed per transport.
    """

    bufferSize = BUFFER_SIZE
    connected = False
    disconnecting = False
    disconnected = False
    producer: IProducer | None = None
    producerPaused = False
    streamingProducer = False
    protocol: IProtocol
    _logstr = "Uninitialized"
    # Twisted's startTLS sets TLS, and reads which side this one is.
    TLS = False
    _tlsClientDefault = False

    def __init__(
        self,
        skt: socket.socket,
        family: SocketFamily,
        reactor: Any,
        peer: IAddress,
        log_suffix: str,
    ) -> None:
        self.socket = skt
        self.reactor = reactor
        self._family = family
        self._peer = peer
        self._log_suffix = log_suffix
        self._registry = registry(reactor)
        self._calls = SocketCalls(skt, family.close_cancels_blocked_calls)
        self._threads = ConnectionThreads(
            family.name, self._registry.pool, reactor, ended=self._finish_close
        )
        self._delivery = Delivery(self)
        self._reader = Reader(
            self._threads,
            self._calls,
            skt,
            reactor,
            self._delivery.deliver,
            family.receive,
        )
        self._writer = Writer(
            self._threads,
            self._calls,
            skt,
            reactor,
            sends_without_blocking=family.sends_without_blocking,
            messages=family.messages,
            failed=self._delivery.write_failed,
            all_sent=self._all_sent,
        )
        self._closing = False
        self._close_reason: Failure | None = None
        self._aborting = False
        self._write_shutdown_asked = False
        self._write_shut = False
        self._host: IAddress | None = None
        # For a family of messages, the longest one this side sends.
        self._limit = 0

    # Starting.

    def start_io(self, protocol: IProtocol) -> None:
        """Start the reader, then tell the protocol."""
        if self._family.messages:
            self._limit = self._family.message_limit(self.socket)
            alsoProvides(self, IMessageTransport)
        self.protocol = protocol
        self._logstr = log_prefix(protocol) + self._log_suffix
        self.connected = True
        self._reader.start()
        self._call(protocol.makeConnection, self)

    # Calling the protocol and its producer.

    def _call(self, method: Callable[..., object], *args: Any) -> bool:
        """
        Call ``method`` as the reactor calls a selectable: with this
        connection's log prefix, and losing the connection with the exception
        as its reason if it raises.

        :return: whether it returned normally.
        """
        try:
            log.callWithContext({"system": self.logPrefix()}, method, *args)
        except BaseException:
            reason = Failure()
            _log.failure(
                "{prefix} raised while handling an event",
                reason,
                prefix=self.logPrefix(),
            )
            self._close(reason, replace_reason=True)
            return False
        return True

    # What the parts hand the reactor thread.

    def _all_sent(self) -> None:
        """
        Everything written has reached the kernel: what Twisted's
        ``doWrite`` does when its buffer empties.
        """
        if self._closing or not self.connected:
            return
        self._delivery.look_again()
        if self.producer is not None and (
            not self.streamingProducer or self.producerPaused
        ):
            self.producerPaused = False
            self._call(cast(IPullProducer, self.producer).resumeProducing)
        elif self.disconnecting:
            self._close(Failure(error.ConnectionDone()))
        elif self._write_shutdown_asked and not self._write_shut:
            self._write_shut = True
            self._calls.quietly(self.socket.shutdown, socket.SHUT_WR)
            half = IHalfCloseableProtocol(self.protocol, None)
            if half is not None:
                self._call(half.writeConnectionLost)

    def _needs_sent_notice(self) -> bool:
        """Whether :meth:`_all_sent` has something to do once all is sent."""
        return bool(
            (
                self.producer is not None
                and (not self.streamingProducer or self.producerPaused)
            )
            or self.disconnecting
            or (self._write_shutdown_asked and not self._write_shut)
        )

    # Closing.

    def _close(
        self, reason: Failure, abort: bool = False, replace_reason: bool = False
    ) -> None:
        """
        Stop the threads and drop what they hold; ``connectionLost`` follows
        once they have ended.

        :param abort: close with ``SO_LINGER`` zero.
        :param replace_reason: report ``reason`` even if closing had begun
            (an exception from the protocol says more than an abort).
        """
        if self.disconnected:
            return
        if self._closing:
            if replace_reason:
                self._close_reason = reason
            return
        self._closing = True
        self._close_reason = reason
        with self._threads.lock:
            finish_now = self._threads.stop()
            self._reader.drop()
            writer_blocked = self._writer.drop()
        if abort:
            self._calls.quietly(self._family.set_linger_zero, self.socket)
        # Wake a reader blocked in recv; a writer blocked in send needs the
        # write side shut too, which an orderly close never finds blocked.
        how = socket.SHUT_RDWR if writer_blocked else socket.SHUT_RD
        self._calls.quietly(self.socket.shutdown, how)
        if self._family.close_cancels_blocked_calls:
            self._calls.close()
        if finish_now:
            self.reactor.callLater(0, self._finish_close)

    def _finish_close(self) -> None:
        """Every thread has ended: close the socket, tell the protocol."""
        if self.disconnected:
            return
        # The last loop posted this once it ended: nothing is inside a call
        # on the socket any more (its thread goes back to the pool).
        self._calls.close()
        self._delivery.cancel()
        self.disconnected = True
        self.connected = False
        self._registry.discard(self)
        producer, self.producer = self.producer, None
        if producer is not None:
            self._call(producer.stopProducing)
        reason = self._close_reason or Failure(error.ConnectionDone())
        self._connection_lost(reason)

    def _connection_lost(self, reason: Failure) -> None:
        """Tell whoever must know that the connection is gone."""
        self._call(self.protocol.connectionLost, reason)

    def shut_down(self, deadline: float) -> None:
        """The reactor is stopping: close now, and wait for the threads."""
        self._close(Failure(error.ConnectionLost("the reactor shut down")))
        self._threads.wait(deadline)
        self._finish_close()

    # What the protocol calls goes through the TLS layer once startTLS put
    # one in front (self.protocol is then that layer), as on Twisted's TCP
    # transports; the layer itself writes with the methods below these.

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        if self._family.messages:
            raise TypeError(
                "startTLS: TLS needs a byte stream, and this vsock connection "
                "carries messages (type=seqpacket)"
            )
        # Imported here: Twisted's TLS layer needs pyOpenSSL, which Twisted
        # itself does not require.
        from .tls import start_tls

        start_tls(self, contextFactory, normal)

    def write(self, data: bytes) -> None:
        if self.TLS:
            if self.connected:
                cast(Any, self.protocol).write(data)
        else:
            self._write(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        if self.TLS:
            if self.connected:
                cast(Any, self.protocol).writeSequence(iovec)
        else:
            self._write_sequence(iovec)

    def loseConnection(self) -> None:
        """Close once everything written has been sent."""
        if self.TLS:
            if self.connected and not self.disconnecting:
                cast(Any, self.protocol).loseConnection()
        else:
            self._lose_connection()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        if self.TLS:
            cast(Any, self.protocol).registerProducer(producer, streaming)
        else:
            self._register_producer(producer, streaming)

    def unregisterProducer(self) -> None:
        if self.TLS:
            cast(Any, self.protocol).unregisterProducer()
        else:
            self._unregister_producer()

    # The same, straight to the socket.

    def _write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        if data:
            self._check_message(len(data))
            self._queue([data], len(data))

    def _write_sequence(self, iovec: Iterable[bytes]) -> None:
        chunks = list(iovec)
        if not all(isinstance(chunk, bytes) for chunk in chunks):
            raise TypeError("Data must be bytes")
        chunks = [chunk for chunk in chunks if chunk]
        if chunks and self._family.messages:
            chunks = [b"".join(chunks)]  # one message
        if chunks:
            self._check_message(len(chunks[0]))
            self._queue(chunks, sum(len(chunk) for chunk in chunks))

    def _check_message(self, size: int) -> None:
        """For messages: refuse one over the buffer, which no kernel takes."""
        if not self._family.messages or size <= self._limit or not self.connected:
            return
        # The buffer may have been raised since it was last read.
        self._limit = self._family.message_limit(self.socket)
        if size > self._limit:
            raise MessageTooLongError(size, self._limit)

    def _queue(self, chunks: list[bytes], size: int) -> None:
        if not self.connected or self._write_shut or self._closing:
            return
        self._delivery.wrote()
        notice = self._needs_sent_notice()
        unsent = self._writer.write(
            chunks,
            size,
            # With a producer, writes queue as on Twisted's transports, which
            # pause a streaming producer as soon as too much is queued.
            at_once=not notice and self.producer is None,
            # Without a producer, the drain is reported too: on Twisted's
            # transports a pull producer registered later in this turn is
            # resumed once this data has gone, and the writer may finish
            # before that registration (a notice nobody needs does nothing).
            tell_when_sent=notice or self.producer is None,
        )
        if pause_if_full(self, unsent):
            self._writer.ask_sent_notice()

    def _lose_connection(self) -> None:
        if not self.connected or self.disconnecting or self._closing:
            return
        if self._write_shut:
            self._close(Failure(error.ConnectionDone()))
            return
        self.disconnecting = True
        self._writer.ask_sent_notice()

    def _register_producer(self, producer: IProducer, streaming: bool) -> None:
        if self.producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer}, because producer "
                f"{self.producer} was never unregistered."
            )
        if self.disconnected:
            producer.stopProducing()
            return
        self.producer = producer
        self.streamingProducer = streaming
        self.producerPaused = False
        if not streaming:
            cast(IPullProducer, producer).resumeProducing()
        if self.connected and not self._closing:
            # Twisted resumes a producer when its buffer next empties, even
            # if what it holds was written before the producer came.
            self._writer.ask_sent_notice(now_if_sent=False)

    def _unregister_producer(self) -> None:
        self.producer = None
        if self.connected and self.disconnecting and not self._closing:
            self._writer.ask_sent_notice()

    # The rest of ITransport and ITCPTransport.

    def abortConnection(self) -> None:
        """Close at once, dropping whatever was not sent yet."""
        if self.disconnected or self._aborting:
            return
        self._aborting = True
        self._close(Failure(error.ConnectionAborted()), abort=True)

    def loseWriteConnection(self) -> None:
        """Shut the write side once everything written has been sent."""
        if self._write_shutdown_asked:
            return
        self._write_shutdown_asked = True
        if self.connected and not self._closing:
            self._writer.ask_sent_notice()

    # ITCPTransport promises IP addresses; as with Twisted's own Unix
    # transports, which also claim it, these are the family's own.
    def getHost(self) -> IAddress:  # type: ignore[override]
        if self._host is None:
            self._host = self._family.local_address(self.socket)
        return self._host

    def getPeer(self) -> IAddress:  # type: ignore[override]
        return self._peer

    def logPrefix(self) -> str:
        return self._logstr

    def getHandle(self) -> socket.socket:
        return self.socket

    # Options TCP has and these families do not.

    def getTcpNoDelay(self) -> bool:
        return False

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def getTcpKeepAlive(self) -> bool:
        return False

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass

    # IHalfCloseableDescriptor: what the reader's end of stream turns into
    # (Delivery decides when the protocol learns of it).

    def readConnectionLost(self, reason: Failure) -> None:
        self._delivery.peer_ended()

    def writeConnectionLost(self, reason: Failure) -> None:
        self._close(reason)

    # IPushProducer: pausing stops the reader before its next recv.

    def pauseProducing(self) -> None:
        self._reader.pause()

    def resumeProducing(self) -> None:
        if not self.connected or self.disconnecting or self._closing:
            return
        self._reader.resume()
        self._delivery.look_again()

    def stopProducing(self) -> None:
        self.loseConnection()

    def stopConsuming(self) -> None:
        """The producer is done: unregister it and close once all is sent."""
        self.unregisterProducer()
        self.loseConnection()

    # Twisted's selectables have these, and protocols (and Twisted's own
    # tests) call them.
    stopReading = pauseProducing
    startReading = resumeProducing
