"""
AF_VSOCK facts both engines share (``_sockets.vsock``), without a
connection: what a kernel without ``SOCK_SEQPACKET`` vsock says, and the
kernel's connect errors turned into Twisted's, in words that say what to
check. Real sockets are in the kernel tier of tests/test_vsock.py.
"""

from __future__ import annotations

import errno
import os
import re
import socket
from typing import Any

import pytest
from twisted.internet import error

from twisted_hvsock import VSockUnavailableError
from twisted_hvsock._sockets.vsock import explain_connect_error, new_vsock_socket


def test_a_kernel_without_seqpacket_vsock_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(family: int, kind: int) -> socket.socket:
        assert kind == socket.SOCK_SEQPACKET
        raise OSError(errno.ESOCKTNOSUPPORT, os.strerror(errno.ESOCKTNOSUPPORT))

    monkeypatch.setattr(socket, "socket", refuse)
    with pytest.raises(VSockUnavailableError, match="needs Linux 5.14 or later"):
        new_vsock_socket("seqpacket")


@pytest.mark.parametrize(
    ("code", "socket_type", "expected", "words"),
    [
        (
            errno.ECONNRESET,
            "seqpacket",
            error.ConnectionRefusedError,
            "nothing listens on vsock CID 3 port 80 for type=seqpacket connections "
            "\\(a stream listener refuses them\\)",
        ),
        (
            errno.ESOCKTNOSUPPORT,
            "seqpacket",
            error.ConnectError,
            "the vsock transport to CID 3 does not carry SOCK_SEQPACKET: .* 5.14",
        ),
    ],
)
def test_seqpacket_connect_errors_say_what_to_check(
    code: int, socket_type: Any, expected: type[Exception], words: str
) -> None:
    mapped = explain_connect_error(
        error.getConnectError((code, os.strerror(code))), (3, 80), socket_type
    )
    assert type(mapped) is expected
    assert re.search(words, str(mapped))


@pytest.mark.parametrize(
    ("code", "expected", "words"),
    [
        (
            errno.ECONNRESET,
            error.ConnectionRefusedError,
            "nothing listens on vsock CID 3 port 80",
        ),
        (errno.ETIMEDOUT, error.TimeoutError, "timed out"),
        (errno.ENODEV, error.NoRouteError, "no vsock transport reaches CID 3"),
    ],
)
def test_kernel_connect_errors_become_twisted_errors(
    code: int, expected: type[Exception], words: str
) -> None:
    mapped = explain_connect_error(
        error.getConnectError((code, os.strerror(code))), (3, 80)
    )
    assert isinstance(mapped, expected)
    assert words in str(mapped)
