"""
``hvsock notify``: its options, a timeout, Unix-socket senders on the host,
and, in the guest, a sender that behaves as PID 1 does over seqpacket and
over a stream.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from ..support.hvsock_cli import hvsock, start_listener, vsock_port_of
from ..support.notify_sender import KINDS, send_as_pid1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "--listen ADDRESS is required"),
        (("--listen", "vsock:port=5", "--cid", "any"), "--cid must be one guest's"),
        (("--listen", "vsock:port=5", "--timeout", "0"), "--timeout must be a posi"),
        (("--listen", "vsock:port=5", "extra"), "expected no arguments; got 1"),
    ],
)
def test_bad_options_are_usage_errors_in_one_line(
    args: tuple[str, ...], words: str
) -> None:
    result = hvsock("notify", *args)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines[0].startswith(f"hvsock notify: {words}"), lines
    assert lines[1] == "Run 'hvsock notify --help' for usage."


def test_the_command_is_listed_and_its_help_shows_an_example() -> None:
    assert b"notify" in hvsock("--help").stdout
    text = hvsock("notify", "--help").stdout.decode()
    assert "--listen vsock:port=8888:type=seqpacket" in text
    assert "--any-port" in text


def test_no_ready_before_the_timeout_exits_1_saying_so(sockdir: str) -> None:
    path = os.path.join(sockdir, "notify")
    result = hvsock("notify", "--listen", f"unix:{path}", "--timeout", "0.2")
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == (
        "hvsock notify: no READY=1 came within 0.2 s"
    )
    assert result.stdout == b""


def _send_unix(path: str, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sender:
        sender.settimeout(60)  # a hang guard
        sender.connect(path)
        sender.sendall(data)
        sender.shutdown(socket.SHUT_WR)
        assert sender.recv(1) == b""  # closed once the message is in


def test_unix_senders_with_any_port_are_printed_until_ready(sockdir: str) -> None:
    path = os.path.join(sockdir, "notify")
    process, _ = start_listener(
        "notify", "--listen", f"unix:{path}", "--any-port", stdout=subprocess.PIPE
    )
    try:
        _send_unix(path, b"STATUS=booting\n")
        _send_unix(path, b"READY=1\nSTATUS=Startup finished\n")
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.decode().splitlines() == [
        "a unix peer: STATUS=booting",
        "a unix peer: READY=1 STATUS='Startup finished'",
    ]


# In the guest


@pytest.mark.kernel
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_pid1_like_sender_s_messages_are_printed_and_ready_exits_0(
    kind: str,
) -> None:
    listen = "vsock:port=0" + (":type=seqpacket" if kind == "seqpacket" else "")
    process, printed = start_listener(
        "notify", "--listen", listen, "--cid", "1", stdout=subprocess.PIPE
    )
    try:
        port = vsock_port_of(printed)
        send_as_pid1(port, b"STATUS=booting", kind)
        send_as_pid1(port, b"READY=1\nSTATUS=up", kind)
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.decode().splitlines() == [
        "cid 1: STATUS=booting",
        "cid 1: READY=1 STATUS=up",
    ]


@pytest.mark.kernel
def test_an_unprivileged_sender_is_not_heard_and_the_timeout_exits_1() -> None:
    process, printed = start_listener(
        "notify",
        "--listen",
        "vsock:port=0:type=seqpacket",
        "--timeout",
        "30",
        stdout=subprocess.PIPE,
    )
    try:
        send_as_pid1(vsock_port_of(printed), b"READY=1", "seqpacket", 5000)
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 1
    assert out == b""
    assert err.decode().splitlines()[-1] == (
        "hvsock notify: no READY=1 came within 30 s"
    )
