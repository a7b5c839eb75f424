"""
The tools take hyperkit:// and hybridvsock:// URIs: ``hvsock cat`` listens
where a VMM connects for a guest, and connects through hyperkit's socket,
each against a plain-socket peer playing the hypervisor.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

from ..support.hvsock_cli import HVSOCK, start_listener, write_file

MiB = 1024 * 1024


def read_all(skt: socket.socket) -> bytes:
    chunks = []
    while chunk := skt.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_cat_listens_where_the_vmm_connects_for_a_hybridvsock_uri(
    tmp_path: Path,
) -> None:
    uds = tmp_path / "v.sock"
    to_guest = write_file(tmp_path / "to_guest", os.urandom(MiB))
    to_host = os.urandom(MiB)
    with (
        open(to_guest, "rb") as stdin,
        open(tmp_path / "listener.out", "wb") as stdout,
    ):
        listener, address = start_listener(
            "cat", "-l", f"hybridvsock://:52{uds}", stdin=stdin, stdout=stdout
        )
    assert address == f"unix:{uds}_52"
    with socket.socket(socket.AF_UNIX) as vmm:
        vmm.connect(f"{uds}_52")
        vmm.sendall(to_host)
        vmm.shutdown(socket.SHUT_WR)
        received = read_all(vmm)
    assert listener.wait(timeout=120) == 0
    assert received == to_guest.read_bytes()
    assert (tmp_path / "listener.out").read_bytes() == to_host


def test_cat_connects_through_hyperkit_s_socket_for_a_hyperkit_uri(
    tmp_path: Path,
) -> None:
    to_guest = os.urandom(MiB)
    to_host = os.urandom(MiB)
    seen: dict[str, bytes] = {}
    hyperkit = socket.socket(socket.AF_UNIX)
    hyperkit.bind(str(tmp_path / "connect"))
    hyperkit.listen(1)

    def play_hyperkit_and_guest() -> None:
        connection, _ = hyperkit.accept()
        with connection:
            header = b""
            while len(header) < 18:
                header += connection.recv(18 - len(header))
            seen["header"] = header
            seen["data"] = read_all(connection)
            connection.sendall(to_host)

    peer = threading.Thread(target=play_hyperkit_and_guest)
    peer.start()
    try:
        client = subprocess.run(
            [*HVSOCK, "cat", f"hyperkit://:80{tmp_path}"],
            input=to_guest,
            capture_output=True,
            timeout=120,
        )
    finally:
        peer.join(timeout=120)
        hyperkit.close()
    assert client.returncode == 0, client.stderr
    assert seen == {"header": b"00000003.00000050\n", "data": to_guest}
    assert client.stdout == to_host
