"""
Counting threads and descriptors, for tests that check nothing is left behind.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time

from twisted.internet import reactor
from twisted.internet.task import deferLater

from twisted_hvsock._engines.threads.plumbing import IDLE_THREAD_NAME


def busy_threads() -> int:
    """
    The threads alive, less the threads engine's idle I/O threads: those
    wait in its pool for the next connection (a bounded number, ending at
    reactor shutdown) and belong to no connection.
    """
    return sum(1 for thread in threading.enumerate() if thread.name != IDLE_THREAD_NAME)


def open_fds() -> int:
    gc.collect()  # sockets other tests dropped but did not close
    return len(os.listdir("/proc/self/fd"))


async def counts_settle(threads: int, fds: int, timeout: float = 15.0) -> None:
    """
    Wait until the busy thread and descriptor counts are back, or ``timeout``
    (long enough for a loaded machine: it returns as soon as they are).
    """
    deadline = time.monotonic() + timeout
    while (busy_threads(), open_fds()) != (threads, fds):
        if time.monotonic() > deadline:
            return
        await deferLater(reactor, 0.05, lambda: None)


def fd_targets() -> list[str]:
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(targets)
