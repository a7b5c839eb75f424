"""
The reactor side of a connection: the Twisted transport a protocol sees.

Everything the protocol sees happens on the reactor thread: a thread hands
what it got to the reactor, and these methods, which mirror Twisted's
``FileDescriptor`` and ``tcp.Connection``, decide what the protocol is told.
The state set in :meth:`ThreadedTransport.__init__` is touched only on the
reactor thread; what it shares with the threads is
:class:`.ConnectionThreads`' and taken under its lock.

Closing: the reactor thread sets the stop flag, drops what the threads hold,
and wakes any thread blocked in the kernel with ``shutdown()``. The
descriptor itself is closed by :class:`.SocketCalls` only once no thread is
inside a call on it, and ``connectionLost`` runs once both threads of the
connection have ended, so no thread and no descriptor outlives it.
"""

from __future__ import annotations

import errno
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
from .connection_threads import DATA, EOF, ConnectionThreads
from .families import SocketFamily
from .plumbing import BUFFER_SIZE, READ_AHEAD, SEND_SIZE, log_prefix

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
class ThreadedTransport(ConnectionThreads):
    """
    A connected blocking socket whose reads and writes run on two threads.

    The Twisted-facing methods follow ``abstract.FileDescriptor`` and
    ``tcp.Connection`` so that protocols see what Twisted's own transports
    show them.

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

    def __init__(self, skt: socket.socket, family: SocketFamily, reactor: Any) -> None:
        super().__init__(skt, family, reactor)
        # Reactor thread only.
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
        """Start the reader and writer, then tell the protocol."""
        if self._family.messages:
            self._limit = self._family.message_limit(self.socket)
            alsoProvides(self, IMessageTransport)
        self.protocol = protocol
        self._logstr = self._make_logstr(protocol)
        self.connected = True
        self._start_threads(self._read_loop)
        self._call(protocol.makeConnection, self)

    def _make_logstr(self, protocol: IProtocol) -> str:
        return log_prefix(protocol)

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

    def _deliver(self) -> None:
        """Hand the protocol what the reader received, while it may read."""
        with self._lock:
            self._inbox_posted = False
        while not (self._reading_paused or self.disconnecting or self._closing):
            with self._lock:
                if not self._inbox:
                    return
                kind, value = self._inbox.popleft()
                if kind is DATA:
                    was_full = self._inbox_bytes > READ_AHEAD
                    self._inbox_bytes -= len(value)
                    if was_full and self._inbox_bytes <= READ_AHEAD:
                        self._may_read.notify()
            if kind is DATA:
                self._call(self.protocol.dataReceived, value)
            elif kind is EOF:
                self.readConnectionLost(Failure(error.ConnectionDone()))
            else:
                self._close(Failure(error.ConnectionLost(str(value))))

    def _write_failed(self, err: OSError, size: int) -> None:
        if self._family.messages and err.errno == errno.ENOMEM:
            # The kernel's word for a message longer than the peer's buffer.
            too_long = MessageTooLongError(size, self._limit, peer=True)
            self._close(Failure(too_long))
            return
        self._close(Failure(error.ConnectionLost(str(err))))

    def _needs_sent_notice(self) -> bool:
        return bool(
            (
                self.producer is not None
                and (not self.streamingProducer or self.producerPaused)
            )
            or self.disconnecting
            or (self._write_shutdown_asked and not self._write_shut)
        )

    def _ask_sent_notice(self, now_if_sent: bool = True) -> None:
        """
        Have :meth:`_all_sent` run once the queue is empty; if it is empty
        already, on the next reactor turn unless ``now_if_sent`` is false.
        """
        with self._lock:
            if self._unsent:
                self._tell_when_sent = True
                return
            if not now_if_sent or self._sent_notice_posted:
                return
            self._sent_notice_posted = True
        self.reactor.callLater(0, self._all_sent)

    def _all_sent(self) -> None:
        """
        Everything written has reached the kernel: what Twisted's
        ``doWrite`` does when its buffer empties.
        """
        with self._lock:
            self._sent_notice_posted = False
            if self._unsent:
                self._tell_when_sent = True
                return
        if self._closing or not self.connected:
            return
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

    # Closing.

    def _close(
        self, reason: Failure, abort: bool = False, replace_reason: bool = False
    ) -> None:
        """
        Stop both threads and drop what they hold; ``connectionLost`` follows
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
        with self._lock:
            self._stopping = True
            self._outbox.clear()
            self._unsent = 0
            self._inbox.clear()
            self._inbox_bytes = 0
            writer_blocked = self._sending
            self._may_read.notify_all()
            self._may_write.notify_all()
            finish_now = self._live_threads == 0 and not self._finish_posted
            if finish_now:
                self._finish_posted = True
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
        """Both threads have ended: close the socket, tell the protocol."""
        if self.disconnected:
            return
        # The last loop posted this once it ended: nothing is inside a call
        # on the socket any more (its thread goes back to the pool).
        self._calls.close()
        self.disconnected = True
        self.connected = False
        self._registry.discard(self)
        producer, self.producer = self.producer, None
        if producer is not None:
            self._call(producer.stopProducing)
        reason = self._close_reason or Failure(error.ConnectionDone())
        self._connection_lost(reason)

    def _connection_lost(self, reason: Failure) -> None:
        self._call(self.protocol.connectionLost, reason)

    def shut_down(self, deadline: float) -> None:
        """The reactor is stopping: close now, and wait for the threads."""
        self._close(Failure(error.ConnectionLost("the reactor shut down")))
        self._wait_for_threads(deadline)
        self._finish_close()

    # ITransport

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        if data:
            self._check_message(len(data))
            self._queue([data], len(data))

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
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
        # Asked for under the same lock as the data is queued, so that the
        # writer cannot drain it unnoticed in between.
        notice = self._needs_sent_notice()
        with self._lock:
            # With a producer, writes queue as on Twisted's transports, which
            # pause a streaming producer as soon as too much is queued.
            if not notice and self.producer is None:
                size -= self._send_now(chunks, size)
                if not size:
                    return
            self._outbox.extend(chunks)
            self._unsent += size
            unsent = self._unsent
            # Without a producer, the drain is reported too: on Twisted's
            # transports a pull producer registered later in this turn is
            # resumed once this data has gone, and the writer may finish
            # before that registration (a notice nobody needs does nothing).
            if notice or self.producer is None:
                self._tell_when_sent = True
            self._may_write.notify()
        self._start_writer()
        if (
            self.producer is not None
            and self.streamingProducer
            and unsent > self.bufferSize
            and not self.producerPaused
        ):
            self.producerPaused = True
            cast(IPushProducer, self.producer).pauseProducing()
            self._ask_sent_notice()

    def _send_now(self, chunks: list[bytes], size: int) -> int:
        """
        Send a small write from the reactor thread if the writer is idle and
        the kernel takes it without blocking: a request or a reply then costs
        no wake-up of the writer thread. Called under ``_lock``, which keeps
        the writer from sending in between; what the kernel does not take is
        left in ``chunks`` for the writer, as are large writes (whose rest
        would be copied).

        :return: how many bytes were sent.
        """
        if (
            not self._family.sends_without_blocking
            or size > SEND_SIZE
            or self._outbox
            or self._sending
        ):
            return 0
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            sent = self._calls.call(self.socket.send, data, socket.MSG_DONTWAIT)
        except OSError:
            # Full (EAGAIN), or broken: the writer sends it, or meets the
            # error and reports it as it does every other.
            return 0
        chunks[:] = [data[sent:]] if sent < len(data) else []
        return sent

    def loseConnection(self) -> None:
        """Close once everything written has been sent."""
        if not self.connected or self.disconnecting or self._closing:
            return
        if self._write_shut:
            self._close(Failure(error.ConnectionDone()))
            return
        self.disconnecting = True
        self._ask_sent_notice()

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
            self._ask_sent_notice()

    # ITCPTransport promises IP addresses; as with Twisted's own Unix
    # transports, which also claim it, these are the family's own.
    def getHost(self) -> IAddress:  # type: ignore[override]
        if self._host is None:
            self._host = self._family.local_address(self.socket)
        return self._host

    def getPeer(self) -> IAddress:  # type: ignore[override]
        raise NotImplementedError

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

    # IHalfCloseableDescriptor: what the reader's end of stream turns into.

    def readConnectionLost(self, reason: Failure) -> None:
        half = IHalfCloseableProtocol(self.protocol, None)
        if half is None:
            self._close(reason)
        else:
            self._call(half.readConnectionLost)

    def writeConnectionLost(self, reason: Failure) -> None:
        self._close(reason)

    # IConsumer

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
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
            self._ask_sent_notice(now_if_sent=False)

    def unregisterProducer(self) -> None:
        self.producer = None
        if self.connected and self.disconnecting and not self._closing:
            self._ask_sent_notice()

    # IPushProducer: pausing stops the reader before its next recv.

    def pauseProducing(self) -> None:
        with self._lock:
            self._reading_paused = True

    def resumeProducing(self) -> None:
        if not self.connected or self.disconnecting or self._closing:
            return
        with self._lock:
            self._reading_paused = False
            self._may_read.notify()
            post = bool(self._inbox) and not self._inbox_posted
            if post:
                self._inbox_posted = True
        if post:
            self.reactor.callLater(0, self._deliver)

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
