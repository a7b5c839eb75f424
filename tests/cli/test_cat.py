"""
``hvsock cat``: both directions arrive intact through half-close, over Unix
sockets on the host and AF_VSOCK in the guest, with socat as a peer too.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from ..support.hvsock_cli import (
    HVSOCK,
    hvsock,
    start_listener,
    vsock_port_of,
    write_file,
)
from ..support.tls import write_self_signed
from ..support.vsock import free_vsock_port

MiB = 1024 * 1024


def exchange(
    tmp_path: Path,
    listen_address: str,
    connect_address: str | Callable[[int], str] | None = None,
) -> None:
    """
    ``cat -l`` and ``cat`` send each other a file at once; each must print
    exactly the other's file, and both must exit 0.

    ``connect_address`` is where ``cat`` connects: by default the
    listener's vsock port on CID 1; a callable builds it from that port.
    """
    to_listener = write_file(tmp_path / "a", os.urandom(MiB))
    to_client = write_file(tmp_path / "b", os.urandom(MiB))
    with (
        open(to_client, "rb") as stdin,
        open(tmp_path / "listener.out", "wb") as stdout,
    ):
        listener, address = start_listener(
            "cat", "-l", listen_address, stdin=stdin, stdout=stdout
        )
    if connect_address is None:
        target = f"vsock://1:{vsock_port_of(address)}"
    elif callable(connect_address):
        target = connect_address(vsock_port_of(address))
    else:
        target = connect_address
    with (
        open(to_listener, "rb") as stdin,
        open(tmp_path / "client.out", "wb") as stdout,
    ):
        client = subprocess.run(
            [*HVSOCK, "cat", target], stdin=stdin, stdout=stdout, timeout=120
        )
    assert client.returncode == 0
    assert listener.wait(timeout=120) == 0
    assert (tmp_path / "listener.out").read_bytes() == to_listener.read_bytes()
    assert (tmp_path / "client.out").read_bytes() == to_client.read_bytes()


def test_cat_relays_both_ways_over_unix_sockets(tmp_path: Path) -> None:
    socket_path = tmp_path / "s.sock"
    exchange(tmp_path, f"unix:{socket_path}", f"unix:{socket_path}")


def test_cat_without_retry_fails_in_one_line(tmp_path: Path) -> None:
    result = hvsock("cat", f"unix:{tmp_path / 'nobody.sock'}")
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    # The address it tried, and the socket's words without errno's number.
    assert line == (
        f"hvsock cat: cannot connect to unix:{tmp_path / 'nobody.sock'}: "
        "no such file or directory"
    )


def test_cat_retry_says_how_long_and_how_often_it_tried(tmp_path: Path) -> None:
    result = hvsock("cat", "--retry", "0.3", f"unix:{tmp_path / 'nobody.sock'}")
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert re.fullmatch(
        r"hvsock cat: gave up after [2-9]\d* attempts in [\d.]+ s; "
        r"the last: no such file or directory",
        line,
    ), line


def test_cat_takes_options_after_the_address(tmp_path: Path) -> None:
    result = hvsock("cat", f"unix:{tmp_path / 'nobody.sock'}", "--retry", "0.3", "-q")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("hvsock cat: gave up after ")


def test_cat_names_the_socket_file_it_cannot_listen_on(tmp_path: Path) -> None:
    taken = write_file(tmp_path / "taken", b"")
    result = hvsock("cat", "-l", f"unix:{taken}")
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith(f"hvsock cat: cannot listen on unix:{taken}: ")


def test_cat_says_in_words_that_a_certificate_is_for_another_name(
    tmp_path: Path,
) -> None:
    pytest.importorskip("service_identity")
    identity, root = write_self_signed(tmp_path, "guest", "guest.example")
    roots = tmp_path / "roots"
    roots.mkdir()
    shutil.copy(root, roots)
    # Twisted's own TLS over TCP: the words are the CLI's, whatever the
    # transport under TLS.
    server, address = start_listener(
        "cat",
        "-l",
        "--echo",
        f"ssl:0:privateKey={identity}:interface=127.0.0.1",
        stdout=subprocess.DEVNULL,
    )
    try:
        port = address.rpartition(":")[2]
        result = hvsock("cat", f"tls:localhost:{port}:trustRoots={roots}", input=b"hi")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "hvsock cat: TLS: the peer's certificate is not for localhost\n"
    )


@pytest.mark.parametrize("option", ["--wait", "--retry"])
def test_cat_wait_waits_for_a_late_listener(tmp_path: Path, option: str) -> None:
    socket_path = tmp_path / "late.sock"
    client = subprocess.Popen(
        [*HVSOCK, "cat", option, "120", f"unix:{socket_path}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    with open(
        write_file(tmp_path / "greeting", b"hello, late client\n"), "rb"
    ) as stdin:
        listener, _ = start_listener(
            "cat", "-l", f"unix:{socket_path}", stdin=stdin, stdout=subprocess.DEVNULL
        )
    out, _ = client.communicate(timeout=120)
    assert client.returncode == 0
    assert out == b"hello, late client\n"
    assert listener.wait(timeout=120) == 0


def test_cat_echo_serves_every_connection(tmp_path: Path) -> None:
    socket_path = tmp_path / "echo.sock"
    server, _ = start_listener(
        "cat", "-l", "--echo", f"unix:{socket_path}", stdout=subprocess.DEVNULL
    )
    try:
        for size in (0, 1, 3 * MiB):
            data = os.urandom(size)
            result = hvsock("cat", f"unix:{socket_path}", input=data)
            assert result.returncode == 0, result.stderr
            assert result.stdout == data
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_cat_fails_when_standard_output_cannot_take_the_data(tmp_path: Path) -> None:
    socket_path = tmp_path / "echo.sock"
    server, _ = start_listener(
        "cat", "-l", "--echo", f"unix:{socket_path}", stdout=subprocess.DEVNULL
    )
    try:
        with open("/dev/full", "wb") as full:
            result = hvsock(
                "cat",
                f"unix:{socket_path}",
                input=os.urandom(MiB),
                capture_output=False,
                stdout=full,
                stderr=subprocess.PIPE,
                timeout=120,
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "hvsock cat: standard output failed or was closed before all the data "
        "from the peer was written to it\n"
    )


def test_cat_fails_when_a_tls_stream_is_cut_short(tmp_path: Path) -> None:
    identity, root = write_self_signed(tmp_path, "guest", "guest.example")
    vmm = tmp_path / "v.sock"
    listener, _ = start_listener(
        "cat",
        "-l",
        f"hybridvsock:{vmm}:5:privateKey={identity}",
        stdout=subprocess.PIPE,
    )
    context = ssl.create_default_context(cafile=root)
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(f"{vmm}_5")  # as the VMM does for a guest's connection
        with context.wrap_socket(raw, server_hostname="guest.example") as peer:
            peer.sendall(b"partial")
            # Shut the socket under TLS: the stream ends without close_notify.
            peer.shutdown(socket.SHUT_WR)
            out, err = listener.communicate(timeout=120)
    assert listener.returncode == 1
    assert out == b"partial"
    assert err.decode() == (
        "hvsock cat: the peer's TLS stream ended without close_notify, so what "
        "arrived may be cut short\n"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "hvsock cat: expected one argument, ADDRESS; got none\n"),
        (["a", "b"], "expected one argument, ADDRESS; got 2: 'a' 'b'\n"),
        (["--echo", "unix:/x"], "use it with -l"),
        (["-l", "--retry", "5", "unix:/x"], "not with -l"),
        (["-l", "--wait", "5", "unix:/x"], "--wait is for connecting, not with -l"),
        (["--wait", "5", "--retry", "5", "unix:/x"], "older name: give one"),
        (["--wait", "0", "unix:/x"], "--wait must be a positive number"),
        (["--retry", "-1", "unix:/x"], "positive number"),
        (["--retry", "soon", "unix:/x"], "retry"),
    ],
)
def test_cat_bad_arguments_give_one_line_and_usage_hint(
    args: list[str], words: str
) -> None:
    result = hvsock("cat", *args)
    assert result.returncode == 2
    error = result.stderr.decode()
    assert words in error
    assert "Traceback" not in error


def test_cat_bad_address_gives_one_line_and_usage_hint() -> None:
    result = hvsock("cat", "vsock:cid=guest:port=80")
    assert result.returncode == 2
    [line, hint] = result.stderr.decode().splitlines()
    assert line.startswith(
        "hvsock cat: ADDRESS 'vsock:cid=guest:port=80': cid must be a whole "
        "number from 0 to 4294967294 or one of any, hypervisor"
    )
    assert hint == "Run 'hvsock cat --help' for usage."


@pytest.mark.kernel
def test_cat_relays_both_ways_over_vsock(tmp_path: Path) -> None:
    exchange(tmp_path, "vsock:port=0")


@pytest.mark.kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
def test_cat_relays_both_ways_through_tls_over_vsock(tmp_path: Path, io: str) -> None:
    # TLS half-close: each side's end of input sends close_notify, and the
    # other direction keeps flowing until it ends too.
    identity, root = write_self_signed(tmp_path, "guest", "guest.example")
    exchange(
        tmp_path,
        f"vsock:port=0:io={io}:privateKey={identity}",
        lambda port: (
            f"vsock:1:{port}:io={io}:tls=yes:hostname=guest.example:trustRoots={root}"
        ),
    )


@pytest.mark.kernel
def test_cat_names_the_vsock_address_it_cannot_listen_on() -> None:
    server, address = start_listener(
        "cat", "-l", "--echo", "vsock:port=0", stdout=subprocess.DEVNULL
    )
    try:
        port = vsock_port_of(address)
        result = hvsock("cat", "-l", f"vsock:port={port}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith(f"hvsock cat: cannot listen on vsock://any:{port}: ")


@pytest.mark.kernel
def test_cat_accepts_uris(tmp_path: Path) -> None:
    exchange(tmp_path, "vsock://:0")


@pytest.mark.kernel
def test_socat_sends_a_file_through_cat_listener(tmp_path: Path) -> None:
    data = write_file(tmp_path / "data", os.urandom(MiB))
    with open(tmp_path / "out", "wb") as stdout:
        listener, address = start_listener("cat", "-l", "vsock:port=0", stdout=stdout)
    with open(data, "rb") as stdin:
        socat = subprocess.run(
            ["socat", "-t", "60", "-", f"VSOCK-CONNECT:1:{vsock_port_of(address)}"],
            stdin=stdin,
            capture_output=True,
            timeout=120,
        )
    assert socat.returncode == 0, socat.stderr
    assert listener.wait(timeout=120) == 0
    assert (tmp_path / "out").read_bytes() == data.read_bytes()


@pytest.mark.kernel
def test_cat_sends_a_file_to_a_socat_listener(tmp_path: Path) -> None:
    data = os.urandom(MiB)
    port = free_vsock_port()
    with open(tmp_path / "out", "wb") as stdout:
        socat = subprocess.Popen(
            ["socat", "-u", f"VSOCK-LISTEN:{port}", "-"], stdout=stdout
        )
        try:
            result = hvsock("cat", "--retry", "120", f"vsock://1:{port}", input=data)
            assert result.returncode == 0, result.stderr
            assert socat.wait(timeout=120) == 0
        finally:
            socat.kill()
    assert (tmp_path / "out").read_bytes() == data


def _seqpacket_listener() -> socket.socket:
    listener = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    listener.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
    listener.listen(1)
    return listener


def _messages_until_end(conn: socket.socket) -> list[bytes]:
    """Every message until the peer stops sending, one receive each."""
    messages = []
    while message := conn.recv(1 << 20):
        messages.append(message)
    return messages


def _start_cat(
    *args: str, stdin: IO[bytes] | int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*HVSOCK, "cat", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
def test_cat_sends_each_line_as_a_message_and_prints_each_message_on_a_line(
    tmp_path: Path, io: str
) -> None:
    lines = write_file(tmp_path / "lines", b"one\n\ntwo words\nlast")
    with _seqpacket_listener() as listener, open(lines, "rb") as stdin:
        port = listener.getsockname()[1]
        cat = _start_cat(f"vsock:1:{port}:type=seqpacket:io={io}", stdin=stdin)
        conn, _ = listener.accept()
    with conn:
        received = _messages_until_end(conn)
        conn.sendall(b"alpha")
        conn.sendall(b"two\nlines")
    out, err = cat.communicate(timeout=300)
    assert (cat.returncode, err) == (0, b"")
    assert received == [b"one", b"two words", b"last"]
    assert out == b"alpha\ntwo\nlines\n"


@pytest.mark.kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
def test_cat_listening_for_seqpacket_relays_lines_as_messages(io: str) -> None:
    with open(os.devnull, "rb") as nothing:
        listener, address = start_listener(
            "cat",
            "-l",
            f"vsock:port=0:type=seqpacket:io={io}",
            stdin=nothing,
            stdout=subprocess.PIPE,
        )
    with socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET) as client:
        client.connect((1, vsock_port_of(address)))
        client.sendall(b"hello")
        client.sendall(b"world")
        client.shutdown(socket.SHUT_WR)
        assert client.recv(1) == b""  # cat's stdin is empty: no message back
    out, _ = listener.communicate(timeout=300)
    assert listener.returncode == 0
    assert out == b"hello\nworld\n"


@pytest.mark.kernel
def test_cat_refuses_a_line_longer_than_a_message_in_one_line() -> None:
    with _seqpacket_listener() as listener:
        port = listener.getsockname()[1]
        cat = _start_cat(f"vsock:1:{port}:type=seqpacket")
        conn, _ = listener.accept()
    with conn:
        assert cat.stdin is not None
        cat.stdin.write(b"fits\n")
        cat.stdin.flush()
        received = conn.recv(1 << 20)
        _, err = cat.communicate(b"x" * 300_000 + b"\n", timeout=300)
    assert cat.returncode == 1
    assert received == b"fits"
    [line] = err.decode().splitlines()
    assert line.startswith("hvsock cat: a line of standard input: a 300000-byte ")
