"""
Proof that the kernel tier is real: plain AF_VSOCK sockets and socat, no
Twisted, over the guest kernel's vsock_loopback transport (CID 1).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading

import pytest

from ..support.vsock import CID_LOCAL, connect_when_listening

pytestmark = pytest.mark.kernel

MiB = 1024 * 1024


def listener() -> tuple[socket.socket, int]:
    skt = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    skt.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
    skt.listen(1)
    return skt, skt.getsockname()[1]


def send_all_then_half_close(skt: socket.socket, data: bytes) -> None:
    skt.sendall(data)
    skt.shutdown(socket.SHUT_WR)


def read_until_eof(skt: socket.socket) -> bytes:
    return b"".join(iter(lambda: skt.recv(256 * 1024), b""))


def test_8_mib_each_way_between_a_listener_and_a_cid_1_client() -> None:
    to_server, to_client = os.urandom(8 * MiB), os.urandom(8 * MiB)
    server, port = listener()
    received_by_server: list[bytes] = []

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            sender = threading.Thread(
                target=send_all_then_half_close, args=(connection, to_client)
            )
            sender.start()
            received_by_server.append(read_until_eof(connection))
            sender.join()

    thread = threading.Thread(target=serve)
    thread.start()
    with server, socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as client:
        client.connect((CID_LOCAL, port))
        sender = threading.Thread(
            target=send_all_then_half_close, args=(client, to_server)
        )
        sender.start()
        received_by_client = read_until_eof(client)
        sender.join()
        thread.join()
    assert (
        hashlib.sha256(received_by_server[0]).digest()
        == hashlib.sha256(to_server).digest()
    )
    assert (
        hashlib.sha256(received_by_client).digest()
        == hashlib.sha256(to_client).digest()
    )


def test_connecting_to_a_port_without_listener_is_reset() -> None:
    server, port = listener()
    server.close()
    with (
        socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as client,
        pytest.raises(ConnectionResetError),
    ):
        client.connect((CID_LOCAL, port))


def test_socat_listener_and_python_client() -> None:
    data = os.urandom(1 * MiB)
    probe, port = listener()
    probe.close()
    socat = subprocess.Popen(
        ["socat", "-u", f"VSOCK-LISTEN:{port}", "STDOUT"], stdout=subprocess.PIPE
    )
    # Drain socat's stdout while sending: the pipe holds far less than 1 MiB.
    output: list[bytes] = []
    reader = threading.Thread(
        target=lambda: output.append(socat.communicate(timeout=120)[0])
    )
    reader.start()
    try:
        with connect_when_listening(port) as client:
            client.sendall(data)
        reader.join()
    finally:
        socat.kill()
        reader.join()
    assert hashlib.sha256(output[0]).digest() == hashlib.sha256(data).digest()


def test_python_listener_and_socat_client() -> None:
    data = os.urandom(1 * MiB)
    server, port = listener()
    with server:
        socat = subprocess.Popen(
            ["socat", "-u", "STDIN", f"VSOCK-CONNECT:{CID_LOCAL}:{port}"],
            stdin=subprocess.PIPE,
        )
        # Feed socat while reading: neither pipe nor socket holds 1 MiB.
        writer = threading.Thread(target=socat.communicate, args=(data,))
        writer.start()
        connection, _ = server.accept()
        with connection:
            received = read_until_eof(connection)
        writer.join()
        assert socat.wait(timeout=60) == 0
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
