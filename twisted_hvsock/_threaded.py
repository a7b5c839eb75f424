# Twisted's failures, errors and logging are untyped.
# mypy: disallow-untyped-calls=False
"""
The thread-backed I/O engine: blocking sockets, with each connection's reads
and writes on threads of its own, for sockets a reactor cannot poll (Hyper-V
sockets on Windows cannot be given to ``select``).

Threads, per object:

- a connection has a reader thread (``recv`` in a loop) and a writer thread
  (takes queued buffers, joins them up to :data:`SEND_SIZE` bytes, sends);
- a client has a connect thread until it is connected;
- a listening port has an accept thread.

They are ``threading.Thread(daemon=True)`` owned here, never the reactor's
threadpool: its ten threads would run out, and its shutdown joins them.

Everything the protocol sees happens on the reactor thread: a thread hands
what it got to the reactor with ``callFromThread``, and the reactor-side
methods, which mirror Twisted's ``FileDescriptor`` and ``tcp.Connection``,
decide what the protocol is told. Shared state (queues, counters, flags) is
guarded by one lock per connection; the reactor-side state is touched only on
the reactor thread.

Closing: the reactor thread sets the stop flag, drops what the threads hold,
and wakes any thread blocked in the kernel with ``shutdown()``. The
descriptor itself is closed by :class:`_SocketCalls` only once no thread is
inside a call on it, and ``connectionLost`` runs once both threads of the
connection have ended, so no thread and no descriptor outlives it.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from twisted.internet import base, defer, error
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableDescriptor,
    IHalfCloseableProtocol,
    IListeningPort,
    ILoggingContext,
    IProducer,
    IProtocol,
    IProtocolFactory,
    IPushProducer,
    ISystemHandle,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol
from twisted.python import log
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = [
    "BUFFER_SIZE",
    "READ_AHEAD",
    "RECV_SIZE",
    "SEND_SIZE",
    "SocketFamily",
    "ThreadedClient",
    "ThreadedConnector",
    "ThreadedPort",
    "ThreadedServer",
]

#: Unsent bytes above which a streaming producer is paused (Twisted's own
#: transports pause at 64 KiB; threads pay a hop per buffer, so more is kept).
BUFFER_SIZE = 256 * 1024
#: The most bytes one ``recv`` asks for.
RECV_SIZE = 256 * 1024
#: The most bytes one ``send`` is given; queued writes are joined up to this.
SEND_SIZE = 256 * 1024
#: Bytes received but not yet handed to the protocol, above which the reader
#: thread waits for the reactor to catch up.
READ_AHEAD = 1024 * 1024
#: How long reactor shutdown waits, in all, for threads to end.
SHUTDOWN_WAIT = 5.0
#: For families whose blocked ``accept`` no ``shutdown`` wakes (AF_VSOCK),
#: how often the accept thread looks whether its port was stopped.
ACCEPT_CHECK_INTERVAL = 0.1

_T = TypeVar("_T")

# What a reader thread hands the reactor.
_DATA = "data"
_EOF = "eof"
_FAILED = "failed"


class SocketFamily:
    """
    What the engine needs to know about one address family. The base class
    suits families whose calls all behave like TCP's; subclasses override
    what differs.

    :ivar name: the family as it appears in log prefixes, e.g. ``"VSOCK"``.
    :ivar accept_wakes_on_shutdown: whether ``shutdown()`` on a listening
        socket ends a blocked ``accept`` (true for AF_UNIX, not AF_VSOCK).
    :ivar close_cancels_blocked_calls: whether closing a socket ends the
        calls other threads are blocked in, as ``closesocket`` does on
        Windows; such sockets are closed at once to stop their threads,
        where ``shutdown()`` might not wake them.
    """

    name = "SOCKET"
    accept_wakes_on_shutdown = True
    close_cancels_blocked_calls = False

    def new_socket(self) -> socket.socket:
        """A new blocking stream socket of this family."""
        raise NotImplementedError

    def address(self, sockaddr: Any) -> IAddress:
        """The ``IAddress`` for a socket address of this family."""
        raise NotImplementedError

    def prepare_connect(self, skt: socket.socket, timeout: float | None) -> None:
        """Make ``connect`` give up after ``timeout`` seconds, if it can."""

    def connected(self, skt: socket.socket) -> None:
        """Undo what :meth:`prepare_connect` set that must not stay."""

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        """The Twisted error a failed ``connect`` to ``sockaddr`` reports."""
        return err

    def listen_error(self, err: OSError, sockaddr: Any) -> object:
        """The reason ``CannotListenError`` gives for a failed bind/listen."""
        return err

    def set_linger_zero(self, skt: socket.socket) -> None:
        """Make ``close`` drop unsent data at once (``SO_LINGER`` zero)."""
        skt.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def set_accept_timeout(self, skt: socket.socket, seconds: float) -> None:
        """Make a blocked ``accept`` return after ``seconds`` (0: never)."""
        raise NotImplementedError

    def listener_closed(self, sockaddr: Any) -> None:
        """Clean up after a listening socket bound to ``sockaddr`` closed."""


class _SocketCalls:
    """
    Counts the threads inside a call on one socket, so that its descriptor
    is closed only once none is: closing a descriptor another thread is
    blocked on neither wakes that thread nor is safe, as the number may be
    reused at once. Where closing does cancel blocked calls (Windows), it is
    the way to stop them, and ``close_cancels`` makes :meth:`close` immediate.
    """

    def __init__(self, skt: socket.socket, close_cancels: bool = False) -> None:
        self._socket = skt
        self._close_cancels = close_cancels
        self._lock = threading.Lock()
        self._inside = 0
        self._closing = False

    def call(self, method: Callable[..., _T], *args: Any) -> _T:
        """
        Call a method of the socket.

        :raises OSError: ``EBADF`` once :meth:`close` was called.
        """
        with self._lock:
            if self._closing:
                raise OSError(errno.EBADF, "the socket is closed")
            self._inside += 1
        try:
            return method(*args)
        finally:
            with self._lock:
                self._inside -= 1
                last = self._closing and self._inside == 0
            if last:
                self._socket.close()

    def quietly(self, method: Callable[..., object], *args: Any) -> None:
        """Call a method of the socket unless it is closed; ignore errors."""
        with contextlib.suppress(OSError):
            self.call(method, *args)

    def close(self) -> None:
        """Close the descriptor now, or when the last thread inside leaves."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            now = self._inside == 0 or self._close_cancels
        if now:
            self._socket.close()


class _Registry:
    """
    Everything of this engine that is alive on one reactor, so that reactor
    shutdown closes every socket and ends every thread.
    """

    def __init__(self, reactor: Any) -> None:
        self._live: set[Any] = set()
        reactor.addSystemEventTrigger("before", "shutdown", self._shut_down)

    def add(self, member: Any) -> None:
        self._live.add(member)

    def discard(self, member: Any) -> None:
        self._live.discard(member)

    def _shut_down(self) -> None:
        deadline = time.monotonic() + SHUTDOWN_WAIT
        for member in list(self._live):
            member._shut_down(deadline)
        self._live.clear()


_registries: weakref.WeakKeyDictionary[Any, _Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def _registry(reactor: Any) -> _Registry:
    with _registries_lock:
        registry = _registries.get(reactor)
        if registry is None:
            registry = _registries[reactor] = _Registry(reactor)
        return registry


def _post(reactor: Any, method: Callable[..., object], *args: Any) -> None:
    """Hand ``method`` to the reactor thread, from one of the engine's threads."""
    # A reactor shut down and taken apart (its waker gone) raises; its
    # shutdown already closed everything, so nobody is left to tell.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        reactor.callFromThread(method, *args)


def _join(threads: Iterable[threading.Thread], deadline: float) -> None:
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def _connect_error(err: OSError) -> error.ConnectError:
    """
    The Twisted error for a failed connect. Built from ``errno`` and
    ``strerror``: on Windows an OSError has five arguments, which
    ``getConnectError`` cannot unpack into an error number.
    """
    connect_error: error.ConnectError = error.getConnectError((err.errno, err.strerror))
    return connect_error


def _log_prefix(protocol: object) -> str:
    if ILoggingContext.providedBy(protocol):
        return str(protocol.logPrefix())
    return protocol.__class__.__name__


@implementer(
    ITCPTransport,
    ISystemHandle,
    IConsumer,
    IPushProducer,
    IHalfCloseableDescriptor,
    ILoggingContext,
)
class _ThreadedTransport:
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
        self.socket = skt
        self.reactor = reactor
        self._family = family
        self._calls = _SocketCalls(skt, family.close_cancels_blocked_calls)
        self._registry = _registry(reactor)
        self._threads: list[threading.Thread] = []
        # Shared with the threads, under _lock.
        self._lock = threading.Lock()
        self._may_read = threading.Condition(self._lock)
        self._may_write = threading.Condition(self._lock)
        self._stopping = False
        self._live_threads = 0
        self._finish_posted = False
        self._inbox: deque[tuple[str, Any]] = deque()
        self._inbox_bytes = 0
        self._inbox_posted = False
        self._reading_paused = False
        self._outbox: deque[bytes] = deque()
        self._unsent = 0
        self._sending = False
        self._tell_when_sent = False
        self._sent_notice_posted = False
        # Reactor thread only.
        self._closing = False
        self._close_reason: Failure | None = None
        self._aborting = False
        self._write_shutdown_asked = False
        self._write_shut = False
        self._host: IAddress | None = None

    # Starting.

    def _start_threads(self, *targets: Callable[[], None]) -> None:
        with self._lock:
            self._live_threads += len(targets)
        for target in targets:
            thread = threading.Thread(
                target=self._run_thread,
                args=(target,),
                name=f"hvsock {self._family.name} {target.__name__.strip('_')}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _start_io(self, protocol: IProtocol) -> None:
        """Start the reader and writer, then tell the protocol."""
        self.protocol = protocol
        self._logstr = self._make_logstr(protocol)
        self.connected = True
        self._start_threads(self._read_loop, self._write_loop)
        self._call(protocol.makeConnection, self)

    def _make_logstr(self, protocol: IProtocol) -> str:
        return _log_prefix(protocol)

    # The threads.

    def _run_thread(self, target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            with self._lock:
                self._live_threads -= 1
                post = (
                    self._stopping
                    and self._live_threads == 0
                    and not self._finish_posted
                )
                if post:
                    self._finish_posted = True
            if post:
                _post(self.reactor, self._finish_close)

    def _read_loop(self) -> None:
        while True:
            with self._lock:
                while (
                    self._reading_paused or self._inbox_bytes > READ_AHEAD
                ) and not self._stopping:
                    self._may_read.wait()
                if self._stopping:
                    return
            try:
                data = self._calls.call(self.socket.recv, RECV_SIZE)
            except OSError as e:
                self._hand_over(_FAILED, e)
                return
            if not data:
                self._hand_over(_EOF, None)
                return
            self._hand_over(_DATA, data)

    def _hand_over(self, kind: str, value: Any) -> None:
        with self._lock:
            if self._stopping:
                return
            self._inbox.append((kind, value))
            if kind is _DATA:
                self._inbox_bytes += len(value)
            if self._inbox_posted:
                return
            self._inbox_posted = True
        _post(self.reactor, self._deliver)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._outbox and not self._stopping:
                    self._may_write.wait()
                if self._stopping:
                    return
                chunks = [self._outbox.popleft()]
                size = len(chunks[0])
                while self._outbox and size + len(self._outbox[0]) <= SEND_SIZE:
                    chunk = self._outbox.popleft()
                    chunks.append(chunk)
                    size += len(chunk)
                self._sending = True
            data = memoryview(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            try:
                while data:
                    sent = self._calls.call(self.socket.send, data[:SEND_SIZE])
                    data = data[sent:]
            except OSError as e:
                with self._lock:
                    self._sending = False
                    if self._stopping:
                        return
                _post(self.reactor, self._write_failed, e)
                return
            with self._lock:
                self._sending = False
                self._unsent -= size
                post = (
                    self._unsent == 0
                    and self._tell_when_sent
                    and not self._sent_notice_posted
                )
                if self._unsent == 0:
                    self._tell_when_sent = False
                if post:
                    self._sent_notice_posted = True
            if post:
                _post(self.reactor, self._all_sent)

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
            log.err(reason, system=self.logPrefix())
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
                if kind is _DATA:
                    was_full = self._inbox_bytes > READ_AHEAD
                    self._inbox_bytes -= len(value)
                    if was_full and self._inbox_bytes <= READ_AHEAD:
                        self._may_read.notify()
            if kind is _DATA:
                self._call(self.protocol.dataReceived, value)
            elif kind is _EOF:
                self.readConnectionLost(Failure(error.ConnectionDone()))
            else:
                self._close(Failure(error.ConnectionLost(str(value))))

    def _write_failed(self, err: OSError) -> None:
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
            self._call(self.producer.resumeProducing)  # type: ignore[attr-defined]
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
        _join(self._threads, time.monotonic() + SHUTDOWN_WAIT)
        self._threads = []
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

    def _shut_down(self, deadline: float) -> None:
        """The reactor is stopping: close now, and wait for the threads."""
        self._close(Failure(error.ConnectionLost("the reactor shut down")))
        _join(self._threads, deadline)
        self._finish_close()

    # ITransport

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        if data:
            self._queue([data], len(data))

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        chunks = list(iovec)
        if not all(isinstance(chunk, bytes) for chunk in chunks):
            raise TypeError("Data must be bytes")
        chunks = [chunk for chunk in chunks if chunk]
        if chunks:
            self._queue(chunks, sum(len(chunk) for chunk in chunks))

    def _queue(self, chunks: list[bytes], size: int) -> None:
        if not self.connected or self._write_shut or self._closing:
            return
        # Asked for under the same lock as the data is queued, so that the
        # writer cannot drain it unnoticed in between.
        notice = self._needs_sent_notice()
        with self._lock:
            self._outbox.extend(chunks)
            self._unsent += size
            unsent = self._unsent
            if notice:
                self._tell_when_sent = True
            self._may_write.notify()
        if (
            self.producer is not None
            and self.streamingProducer
            and unsent > self.bufferSize
            and not self.producerPaused
        ):
            self.producerPaused = True
            self.producer.pauseProducing()  # type: ignore[attr-defined]
            self._ask_sent_notice()

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
            self._host = self._family.address(self.socket.getsockname())
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
            producer.resumeProducing()  # type: ignore[attr-defined]
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


class _StartTLSMixin:
    """
    ``startTLS``: Twisted's own TLS layer goes between the transport and the
    protocol, and the transport's methods pass through it, as they do on
    Twisted's TCP transports.
    """

    TLS = False
    _tlsClientDefault = False
    connected: bool
    disconnecting: bool
    protocol: Any

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        # Imported here: Twisted's TLS layer needs pyOpenSSL, which Twisted
        # itself does not require.
        from twisted.internet import _newtls

        start: Any = _newtls.startTLS
        start(self, contextFactory, normal, _ThreadedTransport)

    def write(self, data: bytes) -> None:
        if self.TLS:
            if self.connected:
                self.protocol.write(data)
        else:
            _ThreadedTransport.write(self, data)  # type: ignore[arg-type]

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        if self.TLS:
            if self.connected:
                self.protocol.writeSequence(iovec)
        else:
            _ThreadedTransport.writeSequence(self, iovec)  # type: ignore[arg-type]

    def loseConnection(self) -> None:
        if self.TLS:
            if self.connected and not self.disconnecting:
                self.protocol.loseConnection()
        else:
            _ThreadedTransport.loseConnection(self)  # type: ignore[arg-type]

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        if self.TLS:
            self.protocol.registerProducer(producer, streaming)
        else:
            _ThreadedTransport.registerProducer(self, producer, streaming)  # type: ignore[arg-type]

    def unregisterProducer(self) -> None:
        if self.TLS:
            self.protocol.unregisterProducer()
        else:
            _ThreadedTransport.unregisterProducer(self)  # type: ignore[arg-type]


class ThreadedServer(_StartTLSMixin, _ThreadedTransport):
    """
    The server side of an accepted connection.
    """

    def __init__(
        self,
        skt: socket.socket,
        peer: Any,
        family: SocketFamily,
        sessionno: int,
        reactor: Any,
    ) -> None:
        super().__init__(skt, family, reactor)
        self._peer = family.address(peer)
        self._host = family.address(skt.getsockname())
        self.sessionno = sessionno

    def _make_logstr(self, protocol: IProtocol) -> str:
        return f"{_log_prefix(protocol)},{self.sessionno},{self._peer}"

    def getPeer(self) -> IAddress:
        return self._peer

    def __repr__(self) -> str:
        return f"<{self._family.name} threaded connection from {self._peer}>"


class ThreadedClient(_StartTLSMixin, _ThreadedTransport):
    """
    The client side of a connection, and, until it is connected, the attempt
    to connect: ``connect`` blocks on a thread of its own, as
    ``tcp.BaseClient`` would poll, and reports to a ``BaseConnector``.
    """

    _tlsClientDefault = True

    def __init__(
        self,
        family: SocketFamily,
        sockaddr: Any,
        connector: base.BaseConnector,
        timeout: float | None,
        reactor: Any,
    ) -> None:
        self.connector = connector
        self._sockaddr = sockaddr
        try:
            skt = family.new_socket()
        except OSError as e:
            # As tcp.BaseClient does: fail on the next turn, not re-entrantly.
            self.reactor = reactor
            self._family = family
            self._failed_early = True
            reactor.callLater(0, self.failIfNotConnected, e)
            return
        self._failed_early = False
        super().__init__(skt, family, reactor)
        self._registry.add(self)
        try:
            family.prepare_connect(skt, timeout)
        except OSError as e:
            reactor.callLater(0, self.failIfNotConnected, e)
            return
        self._start_threads(self._connect)

    def _connect(self) -> None:
        try:
            self._calls.call(self.socket.connect, self._sockaddr)
        except OSError as e:
            outcome: OSError | None = e
        else:
            outcome = None
        with self._lock:
            if self._stopping:
                return
        _post(self.reactor, self._connect_done, outcome)

    def _connect_done(self, outcome: OSError | None) -> None:
        if self._closing or self.disconnected:
            return
        if outcome is not None:
            self.failIfNotConnected(_connect_error(outcome))
            return
        _join(self._threads, time.monotonic() + SHUTDOWN_WAIT)
        self._threads = []
        try:
            self._family.connected(self.socket)
            self._host = self._family.address(self.socket.getsockname())
        except OSError as e:
            self.failIfNotConnected(_connect_error(e))
            return
        try:
            protocol = self.connector.buildProtocol(self.getPeer())
        except BaseException:
            log.err(None, "the client factory could not build a protocol")
            self.failIfNotConnected(error.ConnectError(string="buildProtocol failed"))
            return
        if protocol is None:
            self.connected = True
            self.protocol = Protocol()
            self._start_threads(self._read_loop, self._write_loop)
            self.loseConnection()
            return
        self._start_io(protocol)

    def _make_logstr(self, protocol: IProtocol) -> str:
        return f"{_log_prefix(protocol)},client"

    def failIfNotConnected(self, err: BaseException) -> None:
        """
        Give up connecting, telling the connector ``err`` (mapped onto the
        error Twisted users catch). The connect thread, if blocked, ends
        when the kernel gives up; the socket closes then.
        """
        if self.connected or self.disconnected or getattr(self, "_closing", False):
            return
        err = self._family.connect_error(err, self._sockaddr)
        if not self._failed_early:
            self._closing = True
            with self._lock:
                self._stopping = True
                # Nothing is left to finish once the connect thread ends.
                self._finish_posted = True
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

    def _shut_down(self, deadline: float) -> None:
        if not self.connected:
            self.failIfNotConnected(error.ConnectError(string="the reactor shut down"))
            return
        super()._shut_down(deadline)

    def getPeer(self) -> IAddress:
        return self._family.address(self._sockaddr)

    def __repr__(self) -> str:
        return f"<{self._family.name} threaded client to {self.getPeer()}>"


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
        timeout: float | None,
        reactor: Any,
    ) -> None:
        super().__init__(factory, timeout, reactor)  # type: ignore[arg-type]
        self._family = family
        self._sockaddr = sockaddr

    def _makeTransport(self) -> ThreadedClient:  # type: ignore[override]
        return ThreadedClient(
            self._family, self._sockaddr, self, self.timeout, self.reactor
        )

    def getDestination(self) -> IAddress:
        return self._family.address(self._sockaddr)


@implementer(IListeningPort, ILoggingContext)
class ThreadedPort:
    """
    A listening socket whose ``accept`` runs on a thread of its own.

    :param sockaddr: what to bind.
    :param interface: what ``CannotListenError`` names as the interface.
    :param port: what ``CannotListenError`` names as the port.
    :param bound: called once the socket is bound, before it listens (to set
        a socket file's mode while no connection can reach it yet).
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
    ) -> None:
        self._family = family
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

    def __repr__(self) -> str:
        where = self._host if self._host is not None else self._sockaddr
        return f"<{self._family.name} threaded port on {where}>"

    def startListening(self) -> None:
        """
        Bind, listen and start accepting.

        :raises CannotListenError: saying why not.
        """
        try:
            skt = self._family.new_socket()
        except OSError as e:
            raise error.CannotListenError(self._interface, self._port, e) from e
        try:
            skt.bind(self._sockaddr)
            if self._bound is not None:
                self._bound()
            skt.listen(self.backlog)
            if not self._family.accept_wakes_on_shutdown:
                self._family.set_accept_timeout(skt, ACCEPT_CHECK_INTERVAL)
            self._host = self._family.address(skt.getsockname())
        except OSError as e:
            skt.close()
            reason = self._family.listen_error(e, self._sockaddr)
            raise error.CannotListenError(self._interface, self._port, reason) from e
        self.socket = skt
        self._calls = _SocketCalls(skt, self._family.close_cancels_blocked_calls)
        self._registry = _registry(self.reactor)
        self._registry.add(self)
        self._listening = True
        self.factory.doStart()
        log.msg(f"{self._logPrefix()} starting on {self._host}")
        self._thread = threading.Thread(
            target=self._accept_loop,
            name=f"hvsock {self._family.name} accept",
            daemon=True,
        )
        self._thread.start()

    def _logPrefix(self) -> str:
        return _log_prefix(self.factory)

    def logPrefix(self) -> str:
        return self._logPrefix()

    def _accept_loop(self) -> None:
        try:
            while not self._stop_requested.is_set():
                try:
                    skt, peer = self._calls.call(self.socket.accept)
                except (BlockingIOError, InterruptedError):
                    continue  # the periodic look at _stopping
                except OSError as e:
                    if self._stop_requested.is_set():
                        return
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
                        # Out of descriptors or memory for now: as Twisted's
                        # ports do, go on accepting once some are freed.
                        log.msg(f"{self._logPrefix()} could not accept: {e}")
                        self._stop_requested.wait(ACCEPT_CHECK_INTERVAL)
                        continue
                    if e.errno == errno.ECONNABORTED:
                        continue
                    _post(self.reactor, self._accept_failed, e)
                    return
                with self._lock:
                    self._accepted.append((skt, peer))
                    post = not self._accepted_posted
                    self._accepted_posted = True
                if post:
                    _post(self.reactor, self._take_accepted)
        finally:
            _post(self.reactor, self._accept_ended)

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
        try:
            skt.setblocking(True)
            if not self._family.accept_wakes_on_shutdown:
                self._family.set_accept_timeout(skt, 0)
            self._sessionno += 1
            protocol = self.factory.buildProtocol(self._family.address(peer))
        except BaseException:
            log.err(None, f"{self._logPrefix()} could not accept a connection")
            skt.close()
            return
        if protocol is None:
            skt.close()
            return
        transport = ThreadedServer(
            skt, peer, self._family, self._sessionno, self.reactor
        )
        self._registry.add(transport)
        transport._start_io(protocol)

    def _accept_failed(self, err: OSError) -> None:
        log.msg(f"{self._logPrefix()} stopped accepting: {err}")
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
            _join([self._thread], time.monotonic() + SHUTDOWN_WAIT)
            self._thread = None
        self._registry.discard(self)
        self._close_accepted()
        self._family.listener_closed(self._sockaddr)
        log.msg(f"({self._family.name} port {self._host} closed)")
        self.factory.doStop()
        waiting, self._stopped = self._stopped, []
        for stopped in waiting:
            stopped.callback(None)

    def _shut_down(self, deadline: float) -> None:
        self.stopListening()
        if self._thread is not None:
            _join([self._thread], deadline)
        self._finish_stop()

    def getHost(self) -> IAddress:
        """The address listened on, with the port the kernel chose."""
        if self._host is None:
            raise error.NotListeningError()
        return self._host
