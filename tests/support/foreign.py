"""
Foreign AF_VSOCK peers for kernel-tier tests (guest only): the Go program in
``tests/peers/vsockpeer``, ``ncat --vsock`` and socat, each as a client that
sends its stdin, half-closes and prints what comes back, and as a listener.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import IO

import pytest

from ..peers.build import BINARY as GO_PEER
from ..peers.build import PACKAGES as GO_PACKAGES
from .vsock import CID_LOCAL


@dataclass(frozen=True)
class ForeignPeer:
    """
    How to run one foreign implementation.

    :param name: the test id.
    :param program: the executable, looked up on ``PATH`` unless absolute.
    :param install: where it comes from, for the skip or failure message.
    :param echoes: whether the listener echoes; otherwise it sends its stdin
        and prints what it receives.
    """

    name: str
    program: str
    install: str
    echoes: bool

    def client(self, port: int) -> list[str]:
        """Connect to ``port`` on CID 1: stdin out, half-close, reply to stdout."""
        if self.name == "go":
            return [self.program, "connect", str(CID_LOCAL), str(port)]
        if self.name == "ncat":
            # ncat half-closes when its stdin ends, then reads to the end.
            return [self.program, "--vsock", str(CID_LOCAL), str(port)]
        return [self.program, "-t", "60", "-", f"VSOCK-CONNECT:{CID_LOCAL}:{port}"]

    def listener(self, port: int) -> list[str]:
        """Listen on ``port`` for one connection; say so on stderr."""
        if self.name == "go":
            return [self.program, "listen", str(port)]
        if self.name == "ncat":
            # Not --exec cat as an echo: that loses the tail of the stream
            # after a half-close (seen with ncat 7.93, 80 KiB short of 8 MiB).
            return [self.program, "-v", "--vsock", "-l", str(port)]
        return [
            *(self.program, "-d", "-d", "-t", "60"),
            *(f"VSOCK-LISTEN:{port}", "EXEC:cat"),
        ]

    def require(self) -> None:
        """
        Skip loudly when the program is missing; under CI (``CI=true``) fail
        instead, as the kernel tier does when the guest cannot run.
        """
        found = (
            os.access(self.program, os.X_OK)
            if os.path.isabs(self.program)
            else shutil.which(self.program) is not None
        )
        if found:
            return
        reason = f"FOREIGN PEER MISSING: {self.program} ({self.install})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


PEERS = (
    ForeignPeer(
        "go",
        str(GO_PEER),
        f"built on the host by tests/peers/build.py from {GO_PACKAGES}",
        echoes=True,
    ),
    ForeignPeer("ncat", "ncat", "Debian package ncat", echoes=False),
    ForeignPeer("socat", "socat", "Debian package socat", echoes=True),
)


class RunningListener:
    """A foreign listener started with ``start_listener``; stderr is kept."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._stderr: list[bytes] = []
        assert process.stderr is not None
        self._drain = threading.Thread(
            target=lambda: self._stderr.append(process.stderr.read())  # type: ignore[union-attr]
        )

    def wait_until_listening(self) -> None:
        """Read stderr up to the line that says it listens, then drain the rest."""
        assert self.process.stderr is not None
        lines = []
        while line := self.process.stderr.readline():
            lines.append(line)
            if b"listening on" in line.lower():
                self._stderr.extend(lines)
                self._drain.start()
                return
        self.process.wait()
        raise AssertionError(f"the listener never listened: {b''.join(lines)!r}")

    def finish(self, timeout: float = 120) -> int:
        """Wait for the listener to exit (kill it if it does not); its status."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
            self.process.wait()
            if self._drain.ident is not None:  # started: stderr ends with the process
                self._drain.join()

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")


def start_listener(
    peer: ForeignPeer, port: int, stdin: IO[bytes] | int, stdout: IO[bytes] | int
) -> RunningListener:
    """Start ``peer``'s listener on ``port`` and wait until it listens."""
    process = subprocess.Popen(
        peer.listener(port), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE
    )
    listener = RunningListener(process)
    try:
        listener.wait_until_listening()
    except BaseException:
        process.kill()
        process.wait()
        raise
    return listener
