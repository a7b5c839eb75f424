"""
A connection's writer: the outbox the reactor thread queues writes in, the
thread that joins them up and sends them, sending small writes from the
reactor thread itself while the thread has nothing to do, and telling the
reactor thread when everything queued has been sent.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .connection_threads import ConnectionThreads
from .plumbing import SEND_SIZE, SocketCalls, hand_to_reactor

__all__ = ["Writer"]


class Writer:
    """
    The writing half of a connection. Its thread starts with the first
    write that cannot be sent at once, so a connection whose writes all go
    straight to the socket never takes a second thread.

    :param sends_without_blocking: whether the family lets the reactor
        thread send without blocking (:attr:`.SocketFamily.sends_without_blocking`).
    :param messages: whether each write is a message (:attr:`.SocketFamily.messages`),
        sent in one blocking ``send`` of its own, never joined or cut.
    :param failed: called on the reactor thread with the ``OSError`` of a
        ``send`` that failed and the bytes it was given; the writer has
        stopped.
    :param all_sent: called on the reactor thread once the outbox is empty,
        after :meth:`ask_sent_notice` or a write that asked for it.
    """

    def __init__(
        self,
        threads: ConnectionThreads,
        calls: SocketCalls,
        skt: socket.socket,
        reactor: Any,
        *,
        sends_without_blocking: bool,
        messages: bool = False,
        failed: Callable[[OSError, int], None],
        all_sent: Callable[[], None],
    ) -> None:
        self._threads = threads
        self._calls = calls
        self._socket = skt
        self._reactor = reactor
        self._sends_without_blocking = sends_without_blocking
        self._messages = messages
        self._failed = failed
        self._all_sent = all_sent
        # Reactor thread only.
        self._started = False
        # Shared with the writer thread, under the connection's lock.
        self._lock = threads.lock
        self._may_write = threading.Condition(threads.lock)
        self._outbox: deque[bytes] = deque()
        self._unsent = 0
        self._sending = False
        self._tell_when_sent = False
        self._sent_notice_posted = False

    # The reactor thread.

    def write(
        self, chunks: list[bytes], size: int, *, at_once: bool, tell_when_sent: bool
    ) -> int:
        """
        Queue ``chunks``, ``size`` bytes in all, for the writer thread.

        :param at_once: first try to send them from this thread
            (:meth:`_send_now`); what the kernel takes is not queued.
        :param tell_when_sent: have ``all_sent`` called once the outbox
            empties (asked in the hold of the lock that queues the data, so
            that the writer cannot send it all unnoticed in between).
        :return: how many bytes are unsent now, these included.
        """
        with self._lock:
            if at_once:
                size -= self._send_now(chunks, size)
                if not size:
                    return 0
            self._outbox.extend(chunks)
            self._unsent += size
            unsent = self._unsent
            if tell_when_sent:
                self._tell_when_sent = True
            self._may_write.notify()
        if not self._started:
            self._started = True
            self._threads.start(self._loop, "write_loop")
        return unsent

    def _send_now(self, chunks: list[bytes], size: int) -> int:
        """
        Send a small write from the reactor thread if the writer is idle and
        the kernel takes it without blocking: a request or a reply then costs
        no wake-up of the writer thread. Called under the lock, which keeps
        the writer from sending in between; what the kernel does not take is
        left in ``chunks`` for the writer, as are large writes (whose rest
        would be copied).

        :return: how many bytes were sent.
        """
        if (
            not self._sends_without_blocking
            or size > SEND_SIZE
            or self._outbox
            or self._sending
        ):
            return 0
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            sent = self._calls.call(self._socket.send, data, socket.MSG_DONTWAIT)
        except OSError:
            # Full (EAGAIN), or broken: the writer sends it, or meets the
            # error and reports it as it does every other.
            return 0
        chunks[:] = [data[sent:]] if sent < len(data) else []
        return sent

    def unsent(self) -> int:
        """How many queued bytes the kernel has not taken yet."""
        with self._lock:
            return self._unsent

    def ask_sent_notice(self, now_if_sent: bool = True) -> None:
        """
        Have ``all_sent`` called once the outbox is empty; if it is empty
        already, on the next reactor turn unless ``now_if_sent`` is false.
        """
        with self._lock:
            if self._unsent:
                self._tell_when_sent = True
                return
            if not now_if_sent or self._sent_notice_posted:
                return
            self._sent_notice_posted = True
        self._reactor.callLater(0, self._sent_notice)

    def _sent_notice(self) -> None:
        with self._lock:
            self._sent_notice_posted = False
            if self._unsent:
                # Written to again since the notice was posted.
                self._tell_when_sent = True
                return
        self._all_sent()

    def drop(self) -> bool:
        """
        Empty the outbox and wake the writer to see the stop. Call with the
        lock held, in the hold that calls :meth:`.ConnectionThreads.stop`.

        :return: whether the writer thread is inside a ``send``.
        """
        self._outbox.clear()
        self._unsent = 0
        self._may_write.notify_all()
        return self._sending

    # The writer thread.

    def _loop(self) -> None:
        threads = self._threads
        if self._messages:
            # A signal would end a blocked send with part of a message gone.
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        # A message goes in one send, never joined with another.
        step = 0 if self._messages else SEND_SIZE
        while True:
            with self._lock:
                while not self._outbox and not threads.stopping:
                    self._may_write.wait()
                if threads.stopping:
                    return
                chunks = [self._outbox.popleft()]
                size = len(chunks[0])
                while self._outbox and size + len(self._outbox[0]) <= step:
                    chunk = self._outbox.popleft()
                    chunks.append(chunk)
                    size += len(chunk)
                self._sending = True
            data = memoryview(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            try:
                while data:
                    sent = self._calls.call(self._socket.send, data[: step or None])
                    data = data[sent:]
            except OSError as e:
                with self._lock:
                    self._sending = False
                    if threads.stopping:
                        return
                hand_to_reactor(self._reactor, self._failed, e, size)
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
                hand_to_reactor(self._reactor, self._sent_notice)
