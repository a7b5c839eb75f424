"""
The threads of one connection as a whole: the one lock under which
everything they share with the reactor thread lives, the flag that tells
them to stop, how many of them are running, and telling the reactor thread
once the last has ended after a stop.

The connection's parts (:mod:`.reader`, :mod:`.writer`, a client's connect
step) run their loops through :meth:`ConnectionThreads.start`, and keep
their own shared state under :attr:`ConnectionThreads.lock`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from .plumbing import ThreadPool, hand_to_reactor

__all__ = ["ConnectionThreads"]


class ConnectionThreads:
    """
    The threads of one connection.

    :param family_name: the socket family, as thread names show it.
    :param pool: where the threads come from.
    :param ended: called on the reactor thread once every thread has ended
        after :meth:`stop` (never after :meth:`abandon`).

    :ivar lock: the one lock of the connection: every part keeps the state
        it shares with its thread under it.
    :ivar stopping: set, under :attr:`lock`, when the threads must stop; a
        loop looks at it under the lock before each blocking call.
    """

    def __init__(
        self,
        family_name: str,
        pool: ThreadPool,
        reactor: Any,
        ended: Callable[[], None],
    ) -> None:
        self._family_name = family_name
        self._pool = pool
        self._reactor = reactor
        self._ended = ended
        self.lock = threading.Lock()
        # Under lock.
        self.stopping = False
        self._live = 0
        self._ended_posted = False
        self._all_ended = threading.Condition(self.lock)

    def start(self, target: Callable[[], None], name: str) -> None:
        """Run ``target`` on a thread of the pool, named ``hvsock FAMILY name``."""
        with self.lock:
            self._live += 1
        self._pool.run(partial(self._run, target), f"hvsock {self._family_name} {name}")

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            with self.lock:
                self._live -= 1
                if self._live == 0:
                    self._all_ended.notify_all()
                post = self.stopping and self._live == 0 and not self._ended_posted
                if post:
                    self._ended_posted = True
            if post:
                hand_to_reactor(self._reactor, self._ended)

    def is_stopping(self) -> bool:
        """Whether the threads were told to stop."""
        with self.lock:
            return self.stopping

    def stop(self) -> bool:
        """
        Tell the threads to stop. Call with :attr:`lock` held, emptying the
        parts' queues in the same hold, so that no thread sees one without
        the other.

        :return: whether no thread is running: then none will call
            ``ended``, and the caller finishes the stop itself.
        """
        self.stopping = True
        finish_now = self._live == 0 and not self._ended_posted
        if finish_now:
            self._ended_posted = True
        return finish_now

    def abandon(self) -> None:
        """
        Tell the threads to stop, and have nobody told when they have ended
        (a connect given up: nothing is left to finish).
        """
        with self.lock:
            self.stopping = True
            self._ended_posted = True

    def wait(self, deadline: float) -> None:
        """Wait, until ``deadline`` at most, for every thread to end."""
        with self.lock:
            while self._live:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._all_ended.wait(left)
