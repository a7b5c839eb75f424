"""
Hyper-V socket facts both engines' AF_HYPERV paths share
(``_sockets.hyperv``), without a connection: which backend a machine has,
what it says when it has none, the address Windows' calls take, the options
set on a socket, and Winsock's errors in words that say what to do.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest
from twisted.internet import error

from twisted_hvsock._sockets import hyperv
from twisted_hvsock.hyperv_ids import HyperVAddress

from ..support.fake_hyperv import (
    HV_PROTOCOL_RAW,
    HVSOCKET_CONNECT_TIMEOUT,
    HVSOCKET_CONNECTED_SUSPEND,
    FakeHyperV,
)

VM = uuid.UUID("11111111-2222-3333-4444-555555555555")
SERVICE = uuid.UUID("3049197c-9a4e-4fbf-9367-97f792f16994")
SOCKADDR = (str(VM), str(SERVICE))


def test_the_address_is_the_pair_of_ids_as_text() -> None:
    assert hyperv.sockaddr_for(HyperVAddress(VM, SERVICE)) == SOCKADDR


def test_a_windows_host_has_af_hyperv(windows: FakeHyperV) -> None:
    assert hyperv.hyperv_backend() == "af_hyperv"


@pytest.mark.parametrize(
    ("platform", "backend", "words"),
    [
        ("linux", "af_vsock", "or a Linux guest"),
        ("darwin", None, "this is darwin"),
        ("win32", None, "need Python 3.12 or later on Windows"),
    ],
)
def test_without_af_hyperv_the_backend_and_the_error_say_what_there_is(
    monkeypatch: pytest.MonkeyPatch, platform: str, backend: str | None, words: str
) -> None:
    monkeypatch.setattr(hyperv, "_socket_module", object())
    monkeypatch.setattr(sys, "platform", platform)
    assert hyperv.hyperv_backend() == backend
    assert words in str(hyperv.unavailable_error())


class RecordingSocket:
    def __init__(self) -> None:
        self.options: list[tuple[int, int, Any]] = []

    def setsockopt(self, level: int, option: int, value: Any) -> None:
        self.options.append((level, option, value))


def test_a_connect_timeout_goes_to_windows_in_whole_milliseconds(
    windows: FakeHyperV,
) -> None:
    skt = RecordingSocket()
    hyperv.prepare_connect(skt, 2.0001, suspend=True)
    assert skt.options == [
        (HV_PROTOCOL_RAW, HVSOCKET_CONNECT_TIMEOUT, 2001),
        (HV_PROTOCOL_RAW, HVSOCKET_CONNECTED_SUSPEND, 1),
    ]


@pytest.mark.parametrize(
    ("code", "expected", "words"),
    [
        (
            hyperv.WSAECONNREFUSED,
            error.ConnectionRefusedError,
            f"nothing listens on hvsock://{VM}/{SERVICE}",
        ),
        (hyperv.WSAETIMEDOUT, error.TimeoutError, "timed out connecting to hvsock://"),
        (hyperv.WSAENETUNREACH, error.NoRouteError, f"no VM {VM} is running"),
        (hyperv.WSAEACCES, error.ConnectError, "register the service on the host"),
    ],
)
def test_winsock_connect_errors_become_twisted_errors_in_words(
    code: int, expected: type[Exception], words: str
) -> None:
    mapped = hyperv.explain_connect_error(error.ConnectError(code, "winsock"), SOCKADDR)
    assert type(mapped) is expected
    assert words in str(mapped)


def test_other_errors_pass_unchanged() -> None:
    other = error.ConnectError(1, "something else")
    assert hyperv.explain_connect_error(other, SOCKADDR) is other
    plain = ValueError("not a connect error")
    assert hyperv.explain_connect_error(plain, SOCKADDR) is plain


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (hyperv.WSAEADDRINUSE, "another socket already listens on hvsock://"),
        (hyperv.WSAEACCES, "register the service on the host first"),
    ],
)
def test_listen_errors_say_what_to_do(code: int, words: str) -> None:
    assert words in str(hyperv.explain_listen_error(OSError(code, "x"), SOCKADDR))
