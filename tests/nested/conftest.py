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
INNER_TIMEOUT = 1200


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


class InnerGuest:
    """The inner guest, through its agent."""

    cid = INNER_CID

    def start(self, role: str, *args: object) -> Lines:
        """Start a scenario end in the inner guest."""
        connection = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        connection.settimeout(600)
        connection.connect((INNER_CID, AGENT_PORT))
        connection.sendall(
            json.dumps({"role": role, "args": list(args)}).encode() + b"\n"
        )
        return Lines(connection.makefile("r"), connection.close)

    def quit(self) -> None:
        with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as connection:
            connection.connect((INNER_CID, AGENT_PORT))
            connection.sendall(b'{"role": "quit"}\n')


#: Boots of the inner guest to try: under KVM inside an emulated guest, an
#: inner boot sometimes stops early or never becomes ready (docs/testing.rst).
INNER_BOOTS = 3
#: The longest an inner boot may take to have its agent ready.
READY_TIMEOUT = 600


def _boot_inner() -> subprocess.Popen[str] | None:
    """One boot of the inner guest: the process once ready, or None."""
    command = [
        str(RUN), "--guest-cid", str(INNER_CID), "--timeout", str(INNER_TIMEOUT),
        sys.executable, "-m", "tests.nested.agent",
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
    for _ in range(INNER_BOOTS):
        process = _boot_inner()
        if process is not None:
            break
    else:
        pytest.fail(f"the inner guest failed {INNER_BOOTS} boots in a row")
    guest = InnerGuest()
    try:
        yield guest
    finally:
        guest.quit()
        assert process.wait(timeout=300) == 0


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
