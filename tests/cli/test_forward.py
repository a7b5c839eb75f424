"""
``hvsock forward`` and ``twistd hvsock-forward``: TCP in, echo service out
(Unix sockets on the host, AF_VSOCK in the guest), both directions and
half-close passing through.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..support.hvsock_cli import HVSOCK, start_listener, vsock_port_of

MiB = 1024 * 1024


def echo_through(host: str, port: int, data: bytes) -> bytes:
    """Send ``data``, half-close, and read until the far side closes."""
    with socket.create_connection((host, port), timeout=120) as client:

        def send() -> None:
            # A forward that closes at once (nothing to forward to) may stop
            # the sending; what came back is what the tests judge.
            with contextlib.suppress(OSError):
                client.sendall(data)
                client.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        received = b"".join(iter(lambda: client.recv(256 * 1024), b""))
        sender.join()
    return received


def forward_and_echo(echo_address: str, connect_address: str | None = None) -> None:
    echo, printed = start_listener(
        "cat", "-l", "--echo", echo_address, stdout=subprocess.DEVNULL
    )
    target = connect_address or f"vsock://1:{vsock_port_of(printed)}"
    forward, listening = start_listener(
        "forward", "tcp:0:interface=127.0.0.1", target, stdout=subprocess.DEVNULL
    )
    try:
        host, _, port = listening.removeprefix("tcp:").rpartition(":")
        data = os.urandom(16 * MiB)
        received = echo_through(host, int(port), data)
        assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
    finally:
        for process in (forward, echo):
            process.terminate()
            process.wait(timeout=60)


def test_forward_tcp_to_a_unix_echo_service(tmp_path: Path) -> None:
    echo_socket = tmp_path / "echo.sock"
    forward_and_echo(f"unix:{echo_socket}", f"unix:{echo_socket}")


@pytest.mark.kernel
def test_forward_tcp_to_a_vsock_echo_service() -> None:
    forward_and_echo("vsock:port=0")


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_twistd_hvsock_forward_relays(tmp_path: Path) -> None:
    echo_socket = tmp_path / "echo.sock"
    echo, _ = start_listener(
        "cat", "-l", "--echo", f"unix:{echo_socket}", stdout=subprocess.DEVNULL
    )
    port = free_tcp_port()
    twistd = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("twistd")),
            "-n",
            "--pidfile=",
            "hvsock-forward",
            "--listen",
            f"tcp:{port}:interface=127.0.0.1",
            "--connect",
            f"unix:{echo_socket}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert twistd.stdout is not None
        for line in twistd.stdout:  # twistd logs once the port listens
            if b"starting on" in line:
                break
        data = os.urandom(MiB)
        assert echo_through("127.0.0.1", port, data) == data
    finally:
        for process in (twistd, echo):
            process.terminate()
            process.wait(timeout=60)


def test_forward_logs_a_destination_it_cannot_reach(tmp_path: Path) -> None:
    # hvsock logs through twisted.logger on stderr: a failure to reach the
    # destination is a warning there, not only an EOF for the client.
    nowhere = tmp_path / "nothing-listens-here.sock"
    forward, listening = start_listener(
        "forward",
        "tcp:0:interface=127.0.0.1",
        f"unix:{nowhere}",
        stdout=subprocess.DEVNULL,
    )
    try:
        assert forward.stderr is not None
        assert forward.stderr.readline().decode().startswith("forwarding to unix:")
        host, _, port = listening.removeprefix("tcp:").rpartition(":")
        assert echo_through(host, int(port), b"hello") == b""
        warning = forward.stderr.readline().decode()
        # The client's address as a user would type it, not a repr.
        assert re.match(
            r"hvsock forward: could not forward tcp:127\.0\.0\.1:\d+: ", warning
        ), warning
        assert "No such file or directory" in warning
    finally:
        forward.terminate()
        forward.wait(timeout=60)


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_forward_keeps_warnings_to_itself(tmp_path: Path, where: str) -> None:
    addresses = ["tcp:0:interface=127.0.0.1", f"unix:{tmp_path}/x"]
    args = (
        ["-q", "forward", *addresses]
        if where == "before"
        else ["forward", *addresses, "-q"]
    )
    forward = subprocess.Popen(
        [*HVSOCK, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert forward.stderr is not None
        host, _, port = (
            forward.stderr.readline().decode().split()[-1].removeprefix("tcp:")
        ).rpartition(":")
        forward.stderr.readline()  # forwarding to ...
        assert echo_through(host, int(port), b"hello") == b""
    finally:
        forward.terminate()
        forward.wait(timeout=60)
    assert forward.stderr.read() == b""
