"""
The reactor engine's ``SOCK_SEQPACKET`` connections: each ``write`` sends one
message, each ``dataReceived`` delivers one whole message.

Why a thread sends: AF_VSOCK queues a message as packets, each as large as
the peer's free buffer allows, and a non-blocking send that runs out of
room mid-message fails with ``EAGAIN`` after its first packets have gone
(seen on Linux 6.1). Those packets wait at the peer for the rest, and the
next message sent completes them: two messages arrive as one. A blocking
send waits for room instead, and returns only once the whole message is
queued. So the socket stays blocking; the reactor polls it and reads with
``MSG_DONTWAIT`` (a read takes one whole message or nothing), and a thread
of the connection's own, started by its first write, sends the queued
messages one blocking send each, with signals blocked (a signal would cut a
send short mid-message too).

Each read is sized to the connection's vsock buffer as it is then, which
the kernel keeps every incoming message within; a message cut short anyway
(the buffer was lowered while a longer message waited) closes the
connection instead of reaching the protocol in part. The kernel calls a
socket readable as soon as part of a message has arrived, while a read
waits for all of it: rather than spin until the rest comes, reading pauses
for a moment (:data:`_REST_WAIT`).
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, cast

from twisted.internet import error, main, tcp
from twisted.internet.interfaces import (
    IDelayedCall,
    IPullProducer,
    IReactorTime,
    ITLSTransport,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import classImplementsOnly, implementedBy
from zope.interface.interfaces import IInterface

from .._sockets.vsock import MessageCutShort, buffer_size, set_linger_zero
from ..errors import MessageTooLongError
from ..interfaces import IMessageTransport
from ._producers import pause_if_full

__all__ = ["MessageConnection", "carries_messages"]

_log = Logger()

#: After a readable socket gave no whole message, how long reading pauses
#: first, and at most as the pause doubles while the rest does not come.
_REST_WAIT = (0.001, 0.05)


class _Sender:
    """
    A connection's queue of unsent messages and the thread that sends them,
    one blocking ``send`` each. Everything set in :meth:`__init__` after
    ``_lock`` is shared with the thread and touched only under it.

    :param sent: called on the reactor thread once the queue empties while
        :meth:`tell_when_sent` asked for it.
    :param failed: called on the reactor thread with the ``OSError`` and
        the message's length when a send fails; nothing more is sent then.
    """

    def __init__(
        self,
        skt: socket.socket,
        reactor: Any,
        sent: Callable[[], None],
        failed: Callable[[OSError, int], None],
    ) -> None:
        self._socket = skt
        self._reactor = reactor
        self._sent = sent
        self._failed = failed
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._outbox: deque[bytes] = deque()
        self._unsent = 0
        self._tell = False
        self._sending = False
        self._stopping = False
        self._close_after_send = False

    @property
    def unsent(self) -> int:
        """Bytes queued and not yet taken by the kernel."""
        with self._lock:
            return self._unsent

    def queue(self, message: bytes, tell: bool) -> int:
        """
        Queue ``message``; with ``tell``, as :meth:`tell_when_sent`.

        :return: the bytes unsent now, ``message`` included.
        """
        with self._lock:
            if self._stopping:
                return 0
            self._outbox.append(message)
            self._unsent += len(message)
            self._tell = self._tell or tell
            self._wake.notify()
            unsent = self._unsent
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="hvsock seqpacket sender", daemon=True
            )
            self._thread.start()
        return unsent

    def tell_when_sent(self) -> bool:
        """
        Have ``sent`` called once everything queued is sent.

        :return: true, asking nothing, if nothing is queued now.
        """
        with self._lock:
            if not self._unsent:
                return True
            self._tell = True
            return False

    def drop(self) -> None:
        """Send nothing more (an abort): a send under way still finishes."""
        with self._lock:
            self._stopping = True
            self._outbox.clear()
            self._unsent = 0
            self._wake.notify()

    def stop(self) -> None:
        """
        Drop what is unsent, end the thread, and close the socket: now, or,
        if a send is blocked in the kernel, once ``shutdown`` has woken it.
        """
        self.drop()
        with self._lock:
            # Under the lock: the thread closes the socket under it too.
            self._close_after_send = self._sending
            if self._sending:
                with contextlib.suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)
                return
        self._socket.close()

    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        while True:
            with self._lock:
                while not self._outbox and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                message = self._outbox[0]
                self._sending = True
            failure: OSError | None = None
            try:
                self._socket.send(message)
            except OSError as e:
                failure = e
            with self._lock:
                self._sending = False
                if self._close_after_send:
                    self._socket.close()
                    return
                if self._stopping:
                    return
                if failure is not None:
                    self._stopping = True
                else:
                    self._outbox.popleft()
                    self._unsent -= len(message)
                post = failure is None and not self._unsent and self._tell
                if post:
                    self._tell = False
            if failure is not None:
                self._reactor.callFromThread(self._failed, failure, len(message))
                return
            if post:
                self._reactor.callFromThread(self._sent)


class MessageConnection(tcp.Connection):
    """
    What turns a vsock connection class into a ``SOCK_SEQPACKET`` one, put
    first among its bases: reads and writes that keep message boundaries,
    and writing, half-close and closing paced by the sender thread instead
    of the reactor's write events. The class calls :meth:`_start_messages`
    once its socket is connected.
    """

    _sender: _Sender | None = None
    _limit: int
    _sent_posted = False
    _reading_paused = False
    _rest_wait = 0.0
    _rest_call: IDelayedCall | None = None

    @property
    def _queue(self) -> _Sender:
        assert self._sender is not None, "connected"
        return self._sender

    def _start_messages(self) -> None:
        """The socket is connected: make it blocking, start the queue."""
        self.socket.setblocking(True)
        self._limit = buffer_size(self.socket)
        self._sender = _Sender(
            self.socket, self.reactor, self._all_sent, self._send_failed
        )

    # Reading: one message per wake-up.

    def doRead(  # type: ignore[override]  # _AbortingMixin's stand-in
        self,
    ) -> error.ConnectionLost | error.ConnectionDone | None:
        try:
            size = buffer_size(self.socket)
            data, _, flags, _ = self.socket.recvmsg(size, 0, socket.MSG_DONTWAIT)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                self._wait_for_the_rest()
                return None
            if e.errno == errno.EINTR:
                return None
            return main.CONNECTION_LOST
        self._rest_wait = 0.0
        if flags & socket.MSG_TRUNC:
            return MessageCutShort(size)
        return self._dataReceived(data)

    def _wait_for_the_rest(self) -> None:
        """Part of a message is in: look again in a moment, not at once."""
        first, most = _REST_WAIT
        self._rest_wait = min(max(2 * self._rest_wait, first), most)
        self.stopReading()
        reactor = cast(IReactorTime, self.reactor)
        self._rest_call = reactor.callLater(self._rest_wait, self._look_again)

    def _look_again(self) -> None:
        self._rest_call = None
        if self.connected and not self.disconnecting and not self._reading_paused:
            self.startReading()

    def pauseProducing(self) -> None:
        self._reading_paused = True
        super().pauseProducing()

    def resumeProducing(self) -> None:
        self._reading_paused = False
        super().resumeProducing()

    # Writing: each write one message, queued for the sender.

    def write(self, data: bytes) -> None:
        """
        Send ``data`` as one message, after those written before it.

        :raises MessageTooLongError: if ``data`` is longer than this side's
            vsock buffer; nothing is sent then.
        """
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        if not self.connected or self._writeDisconnected or self._aborting or not data:
            return
        if len(data) > self._limit:
            # The buffer may have been raised since it was last read.
            self._limit = buffer_size(self.socket)
            if len(data) > self._limit:
                raise MessageTooLongError(len(data), self._limit)
        # What Twisted's doWrite does once its buffer empties matters only
        # to a producer, a close or a half-close: only then ask to be told.
        tell = bool(
            self.producer is not None or self.disconnecting or self._writeDisconnecting
        )
        pause_if_full(self, self._queue.queue(data, tell))

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """Send the joined parts of ``iovec`` as one message."""
        parts = list(iovec)
        if not all(isinstance(part, bytes) for part in parts):
            raise TypeError("Data must be bytes")
        self.write(b"".join(parts))

    def startWriting(self) -> None:
        # Once connected, Twisted calls this to hear, through doWrite, that
        # its buffer is empty (loseConnection, loseWriteConnection,
        # unregisterProducer); the sender says so instead of the reactor.
        # Before, a client waits for its connect to complete, as TCP's does.
        if self._sender is None:
            super().startWriting()
        elif self._sender.tell_when_sent() and not self._sent_posted:
            self._sent_posted = True
            cast(IReactorTime, self.reactor).callLater(0, self._all_sent)

    def doWrite(self) -> BaseException | None:  # type: ignore[override]
        """What Twisted's ``doWrite`` does once everything is sent."""
        if self._queue.unsent:
            self.startWriting()
            return None
        if self.producer is not None and (
            not self.streamingProducer or self.producerPaused
        ):
            self.producerPaused = False
            cast(IPullProducer, self.producer).resumeProducing()
        elif self.disconnecting:
            return self._postLoseConnection()  # type: ignore[no-any-return]
        elif self._writeDisconnecting and not self._writeDisconnected:
            self._writeDisconnected = True
            self._closeWriteConnection()
        return None

    def _all_sent(self) -> None:
        self._sent_posted = False
        if not self.connected:
            return
        try:
            why = self.doWrite()
        except BaseException as e:
            _log.failure("{prefix} raised while writing", prefix=self.logPrefix())
            why = e
        if why is not None:
            self.connectionLost(Failure(why))

    def _send_failed(self, err: OSError, size: int) -> None:
        if not self.connected:
            return
        if err.errno == errno.ENOMEM:
            # The kernel's word for a message longer than the peer's buffer.
            reason: BaseException = MessageTooLongError(size, self._limit, peer=True)
        else:
            reason = error.ConnectionLost(str(err))
        self.connectionLost(Failure(reason))

    # Closing: the sender owns the socket's close.

    def abortConnection(self) -> None:
        """Close at once; no message still queued is sent."""
        if self._sender is not None:
            self._sender.drop()
        super().abortConnection()

    def _closeSocket(self, orderly: bool) -> None:
        if self._rest_call is not None and self._rest_call.active():
            self._rest_call.cancel()
        if self._sender is None:
            # Not connected yet (a failed connect): nothing was sent.
            super()._closeSocket(orderly)
            return
        with contextlib.suppress(OSError):
            if orderly:
                self.socket.shutdown(socket.SHUT_RDWR)
            else:
                set_linger_zero(self.socket)
        self._sender.stop()

    def startTLS(self, ctx: object, normal: bool = True) -> None:
        """Refused: TLS needs a byte stream."""
        raise TypeError(
            "startTLS: TLS needs a byte stream, and this vsock connection "
            "carries messages (type=seqpacket)"
        )


def carries_messages(cls: type[Any]) -> type[Any]:
    """
    Declare that ``cls`` provides :class:`IMessageTransport` and not
    ``ITLSTransport``, which it inherits from Twisted's TCP classes.
    """
    kept: list[IInterface] = [
        i for i in implementedBy(cls) if not i.isOrExtends(ITLSTransport)
    ]
    classImplementsOnly(cls, IMessageTransport, *kept)
    return cls
