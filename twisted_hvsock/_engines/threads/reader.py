"""
A connection's reader: the thread that calls ``recv`` in a loop, and the
inbox in which it leaves what it got for the reactor thread, which takes it
out to hand to the protocol.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .connection_threads import ConnectionThreads
from .plumbing import READ_AHEAD, SocketCalls, hand_to_reactor

__all__ = ["DATA", "EOF", "FAILED", "Reader"]

# What the reader leaves in the inbox: received bytes, the end of the
# stream, or the OSError recv raised.
DATA = "data"
EOF = "eof"
FAILED = "failed"


class Reader:
    """
    The reading half of a connection.

    :param arrived: called on the reactor thread when the inbox has
        something; it takes it out with :meth:`take`, until nothing more is
        left or it stops (then :meth:`resume` calls it again).
    :param receive: one ``recv`` on the socket (:meth:`.SocketFamily.receive`).

    :ivar paused: whether the protocol's transport was paused (set on the
        reactor thread, under the lock); the reader then stops before its
        next ``recv``.
    """

    def __init__(
        self,
        threads: ConnectionThreads,
        calls: SocketCalls,
        skt: socket.socket,
        reactor: Any,
        arrived: Callable[[], None],
        receive: Callable[[socket.socket], bytes],
    ) -> None:
        self._threads = threads
        self._calls = calls
        self._socket = skt
        self._reactor = reactor
        self._arrived = arrived
        self._receive = receive
        self.paused = False
        # Shared with the reader thread, under the connection's lock.
        self._lock = threads.lock
        self._may_read = threading.Condition(threads.lock)
        self._inbox: deque[tuple[str, Any]] = deque()
        self._inbox_bytes = 0
        self._posted = False

    def start(self) -> None:
        """Start the reader thread."""
        self._threads.start(self._loop, "read_loop")

    # The reader thread.

    def _loop(self) -> None:
        with self._lock:
            if not self._may_go_on():
                return
        while True:
            try:
                data = self._calls.call(self._receive, self._socket)
            except OSError as e:
                self._hand_over(FAILED, e)
                return
            if not data:
                self._hand_over(EOF, None)
                return
            if not self._hand_over(DATA, data):
                return

    def _may_go_on(self) -> bool:
        """
        Wait while paused or too far ahead; whether to read on (not told to
        stop). Call with the lock held.
        """
        while (self.paused or self._inbox_bytes > READ_AHEAD) and not (
            self._threads.stopping
        ):
            self._may_read.wait()
        return not self._threads.stopping

    def _hand_over(self, kind: str, value: Any) -> bool:
        """
        Leave what ``recv`` gave in the inbox, and post its delivery unless
        one is pending. One hold of the lock per ``recv`` when the reader
        may go on, as it usually may.

        :return: whether to read on.
        """
        with self._lock:
            if self._threads.stopping:
                return False
            self._inbox.append((kind, value))
            if kind is DATA:
                self._inbox_bytes += len(value)
            post = not self._posted
            self._posted = True
            wait = self.paused or self._inbox_bytes > READ_AHEAD
        if post:
            hand_to_reactor(self._reactor, self._arrived)
        if not wait:
            return True
        with self._lock:
            return self._may_go_on()

    # The reactor thread.

    def take(self) -> tuple[str, Any, bool] | None:
        """
        The oldest of what the reader left, and whether more is left:
        ``(DATA, bytes, more)``, ``(EOF, None, more)`` or
        ``(FAILED, OSError, more)``; ``None`` if nothing is left. Taking data
        lets a reader that got too far ahead go on. Once nothing more is
        left, what the reader leaves next is posted again.
        """
        with self._lock:
            if not self._inbox:
                self._posted = False
                return None
            kind, value = self._inbox.popleft()
            if kind is DATA:
                was_full = self._inbox_bytes > READ_AHEAD
                self._inbox_bytes -= len(value)
                if was_full and self._inbox_bytes <= READ_AHEAD:
                    self._may_read.notify()
            more = bool(self._inbox)
            if not more:
                self._posted = False
        return kind, value, more

    def pause(self) -> None:
        """Stop reading before the next ``recv``."""
        with self._lock:
            self.paused = True

    def resume(self) -> None:
        """Read again, and hand over what waited in the inbox meanwhile."""
        with self._lock:
            self.paused = False
            self._may_read.notify()
            # What was left when delivery stopped is posted again.
            post = bool(self._inbox)
            if post:
                self._posted = True
        if post:
            self._reactor.callLater(0, self._arrived)

    def drop(self) -> None:
        """
        Empty the inbox and wake the reader to see the stop. Call with the
        lock held, in the hold that calls :meth:`.ConnectionThreads.stop`.
        """
        self._inbox.clear()
        self._inbox_bytes = 0
        self._may_read.notify_all()
