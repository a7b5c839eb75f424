"""
Choosing the I/O engine: the ``io`` option of ``vsock:`` strings and the
``io`` argument of the vsock endpoints. No socket is connected here.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.testing import MemoryReactor

from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint


class ReactorWithoutFDs:
    """A reactor that cannot poll sockets, as IOCP cannot poll vsock."""


@pytest.mark.parametrize(
    ("description", "io"),
    [
        ("vsock:port=5000", "reactor"),
        ("vsock:port=5000:io=reactor", "reactor"),
        ("vsock:port=5000:io=threads", "threads"),
        ("vsock:5000:io=THREADS", "threads"),
    ],
)
def test_server_strings_choose_the_engine(description: str, io: str) -> None:
    endpoint = serverFromString(MemoryReactor(), description)
    assert isinstance(endpoint, VSockServerEndpoint)
    assert endpoint._io == io


@pytest.mark.parametrize(
    ("description", "io"),
    [
        ("vsock:3:5000", "reactor"),
        ("vsock:cid=3:port=5000:io=reactor", "reactor"),
        ("vsock:host:5000:timeout=5:io=threads", "threads"),
    ],
)
def test_client_strings_choose_the_engine(description: str, io: str) -> None:
    endpoint = clientFromString(MemoryReactor(), description)
    assert isinstance(endpoint, VSockClientEndpoint)
    assert endpoint._io == io


@pytest.mark.parametrize(
    "build",
    [
        lambda: serverFromString(MemoryReactor(), "vsock:5000:io=select"),
        lambda: clientFromString(MemoryReactor(), "vsock:3:5000:io="),
        lambda: VSockServerEndpoint(MemoryReactor(), 5000, io="thread"),
        lambda: VSockClientEndpoint(MemoryReactor(), 3, 5000, io="epoll"),
    ],
)
def test_a_bad_engine_names_io_and_the_engines(build: Any) -> None:
    with pytest.raises(ValueError, match="^io must be one of reactor, threads, got"):
        build()


def test_without_fd_polling_the_default_is_threads() -> None:
    assert VSockServerEndpoint(ReactorWithoutFDs(), 5000)._io == "threads"
    assert VSockClientEndpoint(ReactorWithoutFDs(), 3, 5000)._io == "threads"


def test_engines_share_the_vsock_string_checks() -> None:
    with pytest.raises(ValueError, match="^port must be"):
        serverFromString(MemoryReactor(), "vsock:port=-1:io=threads")
    with pytest.raises(ValueError, match="unknown option 'engine'"):
        clientFromString(MemoryReactor(), "vsock:3:80:engine=threads")
