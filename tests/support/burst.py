"""
A burst of connects from a plain blocking AF_VSOCK client in a process of
its own, as fast as Python can make them (guest only): the listener under
test gets no help from sharing a process, or the GIL, with its clients.

Run as ``python -m tests.support.burst PORT SEQUENTIAL CONCURRENT``: it
connects to ``PORT`` on CID 1 and closes, ``SEQUENTIAL`` times one after the
other, then ``CONCURRENT`` times at once (one thread each, released
together), and prints, as JSON, how many connects of each kind failed, by
errno name: ``{"sequential": {"ECONNRESET": 3}, "concurrent": {}}``.
"""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from .vsock import CID_LOCAL

__all__ = [
    "concurrent",
    "connect_and_close",
    "connect_while_blocked",
    "run_burst",
    "sequential",
]

_REPOSITORY = Path(__file__).resolve().parents[2]


def connect_while_blocked(
    family: int, address: object, count: int, timeout: float | None = None
) -> list[str]:
    """
    Connect ``count`` sockets of ``family`` to ``address`` from this thread
    (the reactor's, so nothing accepts meanwhile), keeping every one open
    until all have tried, then close them.

    :param timeout: each socket's timeout; one makes ``connect`` non-blocking
        underneath, so a full queue fails it instead of making it wait.
    :return: the errno names of the connects that failed.
    """
    clients: list[socket.socket] = []
    failures = []
    try:
        for _ in range(count):
            client = socket.socket(family, socket.SOCK_STREAM)
            clients.append(client)
            client.settimeout(timeout)
            failure = client.connect_ex(address)
            if failure:
                failures.append(errno.errorcode.get(failure, str(failure)))
    finally:
        for client in clients:
            client.close()
    return failures


def connect_and_close(port: int, ready: threading.Barrier | None = None) -> str:
    """
    Connect a blocking socket to ``port`` on CID 1 and close it, after
    waiting at ``ready`` if given.

    :return: ``""``, or the errno name of the failure.
    """
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as client:
        if ready is not None:
            ready.wait()
        try:
            client.connect((CID_LOCAL, port))
        except OSError as e:
            return errno.errorcode.get(e.errno or 0, str(e))
    return ""


def sequential(port: int, count: int) -> Counter[str]:
    """``count`` connects one after the other: the failures, by errno name."""
    failures: Counter[str] = Counter()
    for _ in range(count):
        failure = connect_and_close(port)
        if failure:
            failures[failure] += 1
    return failures


def concurrent(port: int, count: int) -> Counter[str]:
    """``count`` connects at once, a thread each: the failures, by errno name."""
    ready = threading.Barrier(count)
    results: list[str] = []

    def one() -> None:
        results.append(connect_and_close(port, ready))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(result for result in results if result)


def run_burst(port: int, one_by_one: int, at_once: int) -> dict[str, dict[str, int]]:
    """
    Run the burst in a new process: ``one_by_one`` sequential connects, then
    ``at_once`` concurrent ones.

    :return: the failures of each kind, by errno name.
    """
    command = [sys.executable, "-m", __name__, str(port), str(one_by_one), str(at_once)]
    result = subprocess.run(
        command,
        cwd=_REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    failures: dict[str, dict[str, int]] = json.loads(result.stdout)
    return failures


def main(argv: list[str]) -> None:
    port, count, at_once = (int(arg) for arg in argv)
    print(
        json.dumps(
            {
                "sequential": sequential(port, count),
                "concurrent": concurrent(port, at_once),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
