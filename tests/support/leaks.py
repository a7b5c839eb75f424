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


def open_fds() -> int:
    gc.collect()  # sockets other tests dropped but did not close
    return len(os.listdir("/proc/self/fd"))


async def counts_settle(threads: int, fds: int, timeout: float = 5.0) -> None:
    """Wait until the thread and descriptor counts are back, or ``timeout``."""
    deadline = time.monotonic() + timeout
    while (threading.active_count(), open_fds()) != (threads, fds):
        if time.monotonic() > deadline:
            return
        await deferLater(reactor, 0.05, lambda: None)


def fd_targets() -> list[str]:
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(targets)
