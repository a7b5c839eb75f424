"""
The thread side of a connection: its reader and writer threads, and the
state they share with the reactor thread, all of it under one lock.

The reactor side (:mod:`.transport`) builds on this class; the threads call
only what is here, and reach the reactor side only through
:func:`.plumbing.hand_to_reactor`.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from .families import SocketFamily
from .plumbing import (
    READ_AHEAD,
    SEND_SIZE,
    SocketCalls,
    hand_to_reactor,
    registry,
)

__all__ = ["DATA", "EOF", "FAILED", "ConnectionThreads"]

# What a reader thread hands the reactor.
DATA = "data"
EOF = "eof"
FAILED = "failed"


class ConnectionThreads:
    """
    A connected blocking socket whose reads and writes run on two threads,
    and the queues between them and the reactor thread: received data
    waiting for the protocol (the inbox), written data waiting to be sent
    (the outbox).

    Every attribute set in :meth:`__init__` after ``_lock`` is shared with
    the threads and touched only under ``_lock``.
    """

    def __init__(self, skt: socket.socket, family: SocketFamily, reactor: Any) -> None:
        self.socket = skt
        self.reactor = reactor
        self._family = family
        self._calls = SocketCalls(skt, family.close_cancels_blocked_calls)
        self._registry = registry(reactor)
        # Reactor thread only: the writer starts with the first write that
        # cannot be sent at once, so a connection whose writes all go
        # straight to the socket never takes a second thread.
        self._writer_started = False
        # Shared with the threads, under _lock.
        self._lock = threading.Lock()
        self._may_read = threading.Condition(self._lock)
        self._may_write = threading.Condition(self._lock)
        self._threads_ended = threading.Condition(self._lock)
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

    def _start_threads(self, *targets: Callable[[], None]) -> None:
        with self._lock:
            self._live_threads += len(targets)
        for target in targets:
            self._registry.pool.run(
                partial(self._run_thread, target),
                f"hvsock {self._family.name} {target.__name__.strip('_')}",
            )

    def _start_writer(self) -> None:
        """Start the writer thread, unless it has been started already."""
        if not self._writer_started:
            self._writer_started = True
            self._start_threads(self._write_loop)

    def _wait_for_threads(self, deadline: float) -> None:
        """Wait, until ``deadline`` at most, for this connection's loops to end."""
        with self._lock:
            while self._live_threads:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._threads_ended.wait(left)

    # The threads.

    def _run_thread(self, target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            with self._lock:
                self._live_threads -= 1
                if self._live_threads == 0:
                    self._threads_ended.notify_all()
                post = (
                    self._stopping
                    and self._live_threads == 0
                    and not self._finish_posted
                )
                if post:
                    self._finish_posted = True
            if post:
                hand_to_reactor(self.reactor, self._finish_close)

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
                data = self._calls.call(self._family.receive, self.socket)
            except OSError as e:
                self._hand_over(FAILED, e)
                return
            if not data:
                self._hand_over(EOF, None)
                return
            self._hand_over(DATA, data)

    def _hand_over(self, kind: str, value: Any) -> None:
        with self._lock:
            if self._stopping:
                return
            self._inbox.append((kind, value))
            if kind is DATA:
                self._inbox_bytes += len(value)
            if self._inbox_posted:
                return
            self._inbox_posted = True
        hand_to_reactor(self.reactor, self._deliver)

    def _write_loop(self) -> None:
        messages = self._family.messages
        if messages:
            # A signal would end a blocked send with part of a message gone.
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        # A message goes in one send, never joined with another.
        step = 0 if messages else SEND_SIZE
        while True:
            with self._lock:
                while not self._outbox and not self._stopping:
                    self._may_write.wait()
                if self._stopping:
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
                    sent = self._calls.call(self.socket.send, data[: step or None])
                    data = data[sent:]
            except OSError as e:
                with self._lock:
                    self._sending = False
                    if self._stopping:
                        return
                hand_to_reactor(self.reactor, self._write_failed, e, size)
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
                hand_to_reactor(self.reactor, self._all_sent)

    # What the threads hand the reactor thread, which the reactor side
    # implements.

    def _deliver(self) -> None:
        """Hand the protocol what the reader put in the inbox."""
        raise NotImplementedError

    def _write_failed(self, err: OSError, size: int) -> None:
        """A ``send`` of ``size`` bytes failed with ``err``."""
        raise NotImplementedError

    def _all_sent(self) -> None:
        """The outbox emptied while :attr:`_tell_when_sent` was set."""
        raise NotImplementedError

    def _finish_close(self) -> None:
        """Both threads have ended after a stop."""
        raise NotImplementedError
