"""
The processes one measurement runs in: a forked copy of this Python process
running one end of a contender, or a program (the compiled peer, socat).
Each speaks one line at a time on its standard output, which the parent
reads with a deadline, so that a hung peer ends a measurement rather than
the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from typing import Any


class PeerFailed(Exception):
    """A peer process died, hung or said something other than expected."""


class Child:
    """A process whose standard output is a pipe this process reads."""

    def __init__(self, name: str, pid: int, stdout: int, popen: Any = None) -> None:
        self.name = name
        self._pid = pid
        self._stdout = stdout
        self._popen = popen
        self._buffer = b""
        self._status: int | None = None

    def read_line(self, deadline: float) -> str:
        """The next line it writes; :class:`PeerFailed` if none by ``deadline``."""
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._stdout], [], [], left)[0]:
                raise PeerFailed(f"the {self.name} said nothing in time")
            data = os.read(self._stdout, 65536)
            if not data:
                status = self.wait(deadline)
                raise PeerFailed(
                    f"the {self.name} ended (status {status}) before a full line: "
                    f"{self._buffer.decode(errors='replace')!r}"
                )
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def read_report(self, deadline: float) -> dict[str, Any]:
        """Its JSON report line, then its exit; :class:`PeerFailed` on a failure."""
        line = self.read_line(deadline)
        try:
            report: dict[str, Any] = json.loads(line)
        except ValueError:
            raise PeerFailed(f"the {self.name} wrote {line!r}, not JSON") from None
        status = self.wait(deadline)
        if "error" in report:
            raise PeerFailed(f"the {self.name}: {report['error']}")
        if status != 0:
            raise PeerFailed(f"the {self.name} exited with status {status}")
        return report

    def wait(self, deadline: float) -> int:
        """Its exit status, once it has exited; killed at ``deadline``."""
        if self._status is None:
            exited = os.pidfd_open(self._pid)
            try:
                left = max(0.0, deadline - time.monotonic())
                if not select.select([exited], [], [], left)[0]:
                    self.kill()
                    raise PeerFailed(f"the {self.name} did not exit in time")
            finally:
                os.close(exited)
            _, status = os.waitpid(self._pid, 0)
            self._status = os.waitstatus_to_exitcode(status)
            if self._popen is not None:
                self._popen.returncode = self._status
        if self._stdout >= 0:
            os.close(self._stdout)
            self._stdout = -1
        return self._status

    def kill(self) -> None:
        """Kill it (if it still runs) and reap it."""
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            _, status = os.waitpid(self._pid, 0)
            self._status = os.waitstatus_to_exitcode(status)
            if self._popen is not None:
                self._popen.returncode = self._status
        if self._stdout >= 0:
            os.close(self._stdout)
            self._stdout = -1


def write_line(line: str) -> None:
    """Write one line on standard output, unbuffered, as a peer does."""
    os.write(1, (line + "\n").encode())


def fork(name: str, run: Callable[[], dict[str, Any]]) -> Child:
    """
    Run ``run()`` in a forked child whose standard output is a pipe to this
    process; it writes what it writes and then ``run()``'s report as JSON.

    Forked rather than started afresh: in the emulated guest a new Python
    process takes seconds to import what a measurement needs.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(reader)
            os.dup2(writer, 1)
            os.close(writer)
            try:
                report = run()
                status = 0
            except BaseException as e:
                traceback.print_exc()
                report = {"error": f"{type(e).__name__}: {e}"}
            write_line(json.dumps(report))
        finally:
            os._exit(status)
    os.close(writer)
    return Child(name, pid, reader)


def spawn(name: str, command: list[str]) -> Child:
    """Run ``command`` with its standard output a pipe to this process."""
    popen = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert popen.stdout is not None
    stdout = os.dup(popen.stdout.fileno())
    popen.stdout.close()
    return Child(name, popen.pid, stdout, popen)
