"""
What every object of the thread engine shares: the sizes it moves data in,
:class:`SocketCalls` (which closes a descriptor only once no thread is in a
call on it), the per-reactor registry that reactor shutdown empties, and
handing work from a thread to the reactor thread.

Threads, per object:

- a connection has a reader thread (``recv`` in a loop) and a writer thread
  (takes queued buffers, joins them up to :data:`SEND_SIZE` bytes, sends);
- a client has a connect thread until it is connected;
- a listening port has an accept thread.

They are ``threading.Thread(daemon=True)`` owned here, never the reactor's
threadpool: its ten threads would run out, and its shutdown joins them.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from twisted.internet import error
from twisted.internet.interfaces import ILoggingContext

__all__ = [
    "ACCEPT_CHECK_INTERVAL",
    "BUFFER_SIZE",
    "READ_AHEAD",
    "RECV_SIZE",
    "SEND_SIZE",
    "SHUTDOWN_WAIT",
    "Member",
    "Registry",
    "SocketCalls",
    "connect_error_for",
    "hand_to_reactor",
    "join_threads",
    "log_prefix",
    "registry",
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


class SocketCalls:
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


class Member(Protocol):
    """What a :class:`Registry` holds: a port or connection of the engine."""

    def shut_down(self, deadline: float) -> None:
        """The reactor is stopping: close now, waiting until ``deadline``."""


class Registry:
    """
    Everything of this engine that is alive on one reactor, so that reactor
    shutdown closes every socket and ends every thread.
    """

    def __init__(self, reactor: Any) -> None:
        self._live: set[Member] = set()
        reactor.addSystemEventTrigger("before", "shutdown", self._shut_down)

    def add(self, member: Member) -> None:
        self._live.add(member)

    def discard(self, member: Member) -> None:
        self._live.discard(member)

    def _shut_down(self) -> None:
        deadline = time.monotonic() + SHUTDOWN_WAIT
        for member in list(self._live):
            member.shut_down(deadline)
        self._live.clear()


_registries: weakref.WeakKeyDictionary[Any, Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def registry(reactor: Any) -> Registry:
    """The :class:`Registry` of ``reactor``, made on first use."""
    with _registries_lock:
        registry = _registries.get(reactor)
        if registry is None:
            registry = _registries[reactor] = Registry(reactor)
        return registry


def hand_to_reactor(reactor: Any, method: Callable[..., object], *args: Any) -> None:
    """Hand ``method`` to the reactor thread, from one of the engine's threads."""
    # A reactor shut down and taken apart (its waker gone) raises; its
    # shutdown already closed everything, so nobody is left to tell.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        reactor.callFromThread(method, *args)


def join_threads(threads: Iterable[threading.Thread], deadline: float) -> None:
    """Wait, until ``deadline`` at most, for ``threads`` other than this one."""
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def connect_error_for(err: OSError) -> error.ConnectError:
    """
    The Twisted error for a failed connect. Built from ``errno`` and
    ``strerror``: on Windows an OSError has five arguments, which
    ``getConnectError`` cannot unpack into an error number.
    """
    connect_error: error.ConnectError = error.getConnectError((err.errno, err.strerror))
    return connect_error


def log_prefix(protocol: object) -> str:
    """What log lines about ``protocol``'s connection start with."""
    if ILoggingContext.providedBy(protocol):
        return str(protocol.logPrefix())
    return protocol.__class__.__name__
