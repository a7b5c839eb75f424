"""
The C library's socket calls as the package makes them, on Unix sockets
(the same calls it makes for AF_VSOCK, which the host must not connect):
options as raw bytes both ways, errors as ``OSError`` with errno's words,
and ``connect`` with an address built as bytes, answering as
``socket.connect_ex`` does.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from twisted_hvsock._sockets import libc

INT = struct.Struct("=i")


@pytest.fixture
def skt() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as made:
        yield made


def sockaddr_un(path: str) -> bytes:
    return struct.pack("=H", socket.AF_UNIX) + path.encode() + b"\0"


def test_an_option_set_as_bytes_reads_back_as_bytes(skt: socket.socket) -> None:
    libc.setsockopt(skt, socket.SOL_SOCKET, socket.SO_RCVBUF, INT.pack(65536))
    [size] = INT.unpack(libc.getsockopt(skt, socket.SOL_SOCKET, socket.SO_RCVBUF, 4))
    assert size == skt.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 65536


def test_a_refused_option_raises_errno_s_error(skt: socket.socket) -> None:
    with pytest.raises(OSError) as raised:
        libc.getsockopt(skt, socket.SOL_SOCKET, 0x7FFF, 4)
    assert raised.value.errno == errno.ENOPROTOOPT
    assert raised.value.strerror == "Protocol not available"


def test_connect_answers_as_connect_ex(skt: socket.socket, tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        assert libc.connect(skt, sockaddr_un(path)) == 0
        accepted, _ = listener.accept()
        accepted.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        missing = sockaddr_un(str(tmp_path / "absent"))
        assert libc.connect(other, missing) == errno.ENOENT
