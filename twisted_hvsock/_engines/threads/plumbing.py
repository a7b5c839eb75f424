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
import queue
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
    "FIRST_RECV_SIZE",
    "IDLE_SECONDS",
    "IDLE_THREADS",
    "IDLE_THREAD_NAME",
    "READ_AHEAD",
    "RECV_SIZE",
    "SEND_SIZE",
    "SHUTDOWN_WAIT",
    "Member",
    "Registry",
    "SocketCalls",
    "ThreadPool",
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
#: The bytes a stream connection's first ``recv`` asks for; reads that fill
#: it double the next, up to :data:`RECV_SIZE`. CPython allocates the whole
#: size before ``recv`` blocks, so an idle connection holds this much.
FIRST_RECV_SIZE = 16 * 1024
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
#: Idle I/O threads a reactor keeps for the next connections.
IDLE_THREADS = 32
#: How long an idle I/O thread waits for work before it ends.
IDLE_SECONDS = 30.0
#: The name of an I/O thread waiting for work.
IDLE_THREAD_NAME = "hvsock idle"

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


class ThreadPool:
    """
    Reusable daemon threads for connections' connect, read and write loops:
    starting a thread costs tens of milliseconds in an emulated guest, more
    than the rest of a connection's setup, so a loop that ends leaves its
    thread waiting for the next one.

    At most :data:`IDLE_THREADS` wait, each for at most :data:`IDLE_SECONDS`;
    :meth:`stop`, at reactor shutdown, ends every one. Only which thread runs
    a loop changes: loops still end as before (a socket shut down, or on
    Windows closed), and the socket is closed only once no call is inside.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Callable[[], None] | None]] = []
        self._threads: set[threading.Thread] = set()
        self._stopped = False

    def run(self, target: Callable[[], None], name: str) -> None:
        """Run ``target`` on an idle thread, or on a new one."""
        with self._lock:
            if self._idle:
                self._idle.pop().put(target)
                return
            pooled = not self._stopped
        thread = threading.Thread(
            target=self._work, args=(target, name, pooled), name=name, daemon=True
        )
        if pooled:
            with self._lock:
                self._threads.add(thread)
        thread.start()

    def _work(self, target: Callable[[], None] | None, name: str, pooled: bool) -> None:
        me = threading.current_thread()
        inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        while target is not None:
            me.name = name
            target()
            target = None
            if not pooled:
                return
            me.name = IDLE_THREAD_NAME
            with self._lock:
                if self._stopped or len(self._idle) >= IDLE_THREADS:
                    break
                self._idle.append(inbox)
            try:
                target = inbox.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:
                        self._idle.remove(inbox)
                        break
                # Work (or the stop) was handed over as the wait ran out.
                target = inbox.get()
        with self._lock:
            self._threads.discard(me)

    def stop(self, deadline: float) -> None:
        """End the idle threads, and wait for every thread, until ``deadline``."""
        with self._lock:
            self._stopped = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for inbox in idle:
            inbox.put(None)
        join_threads(threads, deadline)


class Registry:
    """
    Everything of this engine that is alive on one reactor, and the threads
    it runs on, so that reactor shutdown closes every socket and ends every
    thread.
    """

    def __init__(self, reactor: Any) -> None:
        self._live: set[Member] = set()
        self.pool = ThreadPool()
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
        self.pool.stop(deadline)


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
