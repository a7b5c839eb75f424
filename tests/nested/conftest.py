"""
Fixtures of the nested tier: the inner guest, booted once per session with
its agent, and the outer guest's own scenario ends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import AGENT_PORT, READY

RUN = Path(__file__).resolve().parents[1] / "vm" / "run"
#: The inner guest's CID; the outer guest is CID 2 (the host) to it.
INNER_CID = 3
#: The longest a whole session may keep the inner guest.
INNER_TIMEOUT = 3600


def in_outer_guest() -> bool:
    """Whether this runs in a guest that ``tests/vm/run --nested`` booted."""
    return os.environ.get("HVSOCK_VM_LEVEL") == "outer"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if in_outer_guest():
        return
    skip = pytest.mark.skip(reason="nested tier: runs in tests/vm/run --nested")
    for item in items:
        if "nested" in item.keywords:
            item.add_marker(skip)


class Lines:
    """The JSON lines one scenario end reports, read as they come."""

    def __init__(self, stream: Any, closing: Any = None) -> None:
        self._stream = stream
        self._closing = closing

    def next(self) -> dict[str, Any]:
        """The next report; fails if the end stopped without one."""
        line = self._stream.readline()
        assert line, "the scenario end stopped without reporting"
        report: dict[str, Any] = json.loads(line)
        return report

    def close(self) -> None:
        self._stream.close()
        if self._closing is not None:
            self._closing()


#: The foreign peer the inner guest runs (tests/peers/build.py builds it).
VSOCKPEER = Path(__file__).resolve().parents[2] / "build" / "peers" / "vsockpeer"


class InnerCommand:
    """One command the inner guest's agent runs, over its own connection."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._output = connection.makefile("rb")
        self._sender: threading.Thread | None = None

    def readline(self) -> bytes:
        """The next line of the command's output."""
        return self._output.readline()

    def send(self, data: bytes) -> None:
        """Send data to the command's stdin from a thread, then half-close."""

        def send_all() -> None:
            self._connection.sendall(data)
            self._connection.shutdown(socket.SHUT_WR)

        self._sender = threading.Thread(target=send_all, daemon=True)
        self._sender.start()

    def finish(self) -> tuple[bytes, int]:
        """The rest of the command's output, and its exit status."""
        try:
            output = self._output.read()
            if self._sender is not None:
                self._sender.join(timeout=60)
        finally:
            self._output.close()
            self._connection.close()
        output, marker, status = output.rpartition(b"exit=")
        assert marker, f"the agent ended without an exit status: {status[-200:]!r}"
        return output, int(status)


class InnerGuest:
    """The inner guest, through its agent."""

    cid = INNER_CID

    def start(self, *words: object) -> InnerCommand:
        """Start a shell command in the inner guest (its stderr on stdout)."""
        line = " ".join(map(str, words)) + " 2>&1\n"
        connection = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        connection.settimeout(600)
        connection.connect((INNER_CID, AGENT_PORT))
        connection.sendall(line.encode())
        return InnerCommand(connection)

    def peer(self, *args: object) -> InnerCommand:
        """Start the Go peer (tests/peers/vsockpeer) in the inner guest."""
        return self.start(VSOCKPEER, *args)


#: Boots of the inner guest to try before failing.
INNER_BOOTS = 2
#: The longest an inner boot may take to have its agent ready: three to
#: five minutes here, emulated inside an emulated guest.
READY_TIMEOUT = 900


def _boot_inner() -> subprocess.Popen[str] | None:
    """One boot of the inner guest: the process once ready, or None."""
    agent = Path(__file__).with_name("agent.sh")
    command = [
        str(RUN), "--guest-cid", str(INNER_CID), "--timeout", str(INNER_TIMEOUT),
        "sh", str(agent), str(AGENT_PORT), READY,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready = threading.Event()

    def wait_for_ready() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == READY:
                ready.set()
                return

    reader = threading.Thread(target=wait_for_ready, daemon=True)
    reader.start()
    reader.join(READY_TIMEOUT)
    if ready.is_set():
        return process
    process.terminate()  # tests/vm/run kills its QEMU and prints the console
    status = process.wait(timeout=60)
    sys.stderr.write(f"nested tier: an inner boot failed, exit status {status}\n")
    return None


@pytest.fixture(scope="session")
def inner() -> Iterator[InnerGuest]:
    """The inner guest, booted with its agent for the whole session."""
    if not VSOCKPEER.exists():
        message = f"FOREIGN PEER MISSING: {VSOCKPEER} (tests/peers/build.py)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    for _ in range(INNER_BOOTS):
        process = _boot_inner()
        if process is not None:
            break
    else:
        pytest.fail(f"the inner guest failed {INNER_BOOTS} boots in a row")
    try:
        yield InnerGuest()
    finally:
        process.terminate()  # the agent serves until stopped
        process.wait(timeout=120)


def outer(role: str, *args: object) -> Lines:
    """Start a scenario end in this (the outer) guest."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.nested.peer", role, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )

    def wait() -> None:
        assert process.wait(timeout=600) == 0

    return Lines(process.stdout, wait)
