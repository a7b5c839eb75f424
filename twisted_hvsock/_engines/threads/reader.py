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
from .plumbing import (
    FIRST_RECV_SIZE,
    READ_AHEAD,
    RECV_SIZE,
    SocketCalls,
    hand_to_reactor,
)

__all__ = ["DATA", "EOF", "FAILED", "Reader", "next_receive_size"]

# What the reader leaves in the inbox: received bytes, the end of the
# stream, or the OSError recv raised.
DATA = "data"
EOF = "eof"
FAILED = "failed"


def next_receive_size(size: int, got: int) -> int:
    """
    How many bytes the ``recv`` after one that asked for ``size`` and got
    ``got`` asks for. A read that fills its buffer doubles the next, up to
    :data:`.RECV_SIZE`, so that a bulk transfer soon moves in large reads; a
    read under a quarter of its size goes back to :data:`.FIRST_RECV_SIZE`,
    so that a connection that turned quiet stops blocking in a large
    ``recv``, whose whole buffer CPython allocates before it blocks. Reads in
    between keep the size: a stream socket often holds less than
    :data:`.RECV_SIZE` (AF_UNIX's send buffer), and halving there would
    shrink a bulk transfer's reads for nothing.
    """
    if got >= size:
        return min(2 * size, RECV_SIZE)
    if got < size // 4:
        return FIRST_RECV_SIZE
    return size


class Reader:
    """
    The reading half of a connection.

    :param arrived: called on the reactor thread when the inbox has
        something; it takes it out with :meth:`take`, until nothing more is
        left or it stops (then :meth:`resume` calls it again).
    :param receive: one ``recv`` of at most the given size on the socket
        (:meth:`.SocketFamily.receive`), sized by :func:`next_receive_size`.

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
        receive: Callable[[socket.socket, int], bytes],
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
        size = FIRST_RECV_SIZE
        while True:
            try:
                data = self._calls.call(self._receive, self._socket, size)
            except OSError as e:
                self._hand_over(FAILED, e)
                return
            if not data:
                self._hand_over(EOF, None)
                return
            if not self._hand_over(DATA, data):
                return
            size = next_receive_size(size, len(data))

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
