"""
Arguments out of range fail at once, as a ``ValueError`` naming them, before
any socket is made; and a listener that fails after binding leaves nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor

from twisted_hvsock import (
    HybridVSockClientEndpoint,
    HybridVSockServerEndpoint,
    HyperkitServerEndpoint,
    HyperVServerEndpoint,
    ThreadedUNIXServerEndpoint,
    VSockClientEndpoint,
    VSockServerEndpoint,
    _checks,
)
from twisted_hvsock._checks import MAX_BACKLOG, MAX_TIMEOUT, default_backlog
from twisted_hvsock._engines.threads.families import UNIX
from twisted_hvsock._engines.threads.port import ThreadedPort

from .support.leaks import open_fds


@pytest.mark.parametrize("backlog", [0, MAX_BACKLOG + 1, 2**64, 10**20])
@pytest.mark.parametrize(
    "build",
    [
        lambda backlog: VSockServerEndpoint(MemoryReactor(), 5, backlog=backlog),
        lambda backlog: HybridVSockServerEndpoint(
            MemoryReactor(), "/tmp/v.sock", 5, backlog=backlog
        ),
    ],
)
def test_a_backlog_out_of_range_is_refused_naming_the_range(
    build: Any, backlog: int
) -> None:
    with pytest.raises(
        ValueError, match=f"backlog must be an integer from 1 to {MAX_BACKLOG}"
    ):
        build(backlog)


@pytest.mark.parametrize("text", ["2147483648", "1e20", "99999999999999999999"])
def test_a_backlog_string_out_of_range_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="backlog"):
        serverFromString(MemoryReactor(), f"vsock:port=5:backlog={text}")


@pytest.fixture
def somaxconn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """Write what the default backlog reads as ``net.core.somaxconn``."""
    limit = tmp_path / "somaxconn"
    monkeypatch.setattr(_checks, "SOMAXCONN_FILE", str(limit))
    return limit.write_text


def test_the_default_backlog_is_the_kernels_longest_queue(
    somaxconn: Callable[[str], Any],
) -> None:
    somaxconn("1234\n")
    assert default_backlog() == 1234


@pytest.mark.skipif(
    not os.path.exists(_checks.SOMAXCONN_FILE), reason="Linux's net.core.somaxconn"
)
def test_on_linux_the_default_backlog_is_net_core_somaxconn() -> None:
    with open(_checks.SOMAXCONN_FILE) as limit:
        assert default_backlog() == min(int(limit.read()), MAX_BACKLOG)


@pytest.mark.parametrize("text", [None, "", "many\n"])
def test_without_a_readable_kernel_limit_the_default_is_pythons_somaxconn(
    somaxconn: Callable[[str], Any], text: str | None
) -> None:
    if text is not None:
        somaxconn(text)
    assert default_backlog() == min(socket.SOMAXCONN, MAX_BACKLOG)


@pytest.mark.parametrize(
    ("text", "backlog"), [("0", 1), (str(MAX_BACKLOG + 1), MAX_BACKLOG)]
)
def test_the_default_backlog_is_one_listen_accepts(
    somaxconn: Callable[[str], Any], text: str, backlog: int
) -> None:
    somaxconn(text)
    assert default_backlog() == backlog


LISTENERS: list[Callable[..., Any]] = [
    lambda **kwargs: VSockServerEndpoint(MemoryReactor(), 5, **kwargs),
    lambda **kwargs: HyperVServerEndpoint(MemoryReactor(), 5, **kwargs),
    lambda **kwargs: HyperkitServerEndpoint(MemoryReactor(), "/vm", 5, **kwargs),
    lambda **kwargs: HybridVSockServerEndpoint(MemoryReactor(), "v.sock", 5, **kwargs),
    lambda **kwargs: ThreadedUNIXServerEndpoint(MemoryReactor(), "s.sock", **kwargs),
]
LISTENER_STRINGS = ["vsock:5", "hvsock:5", "hyperkit:/vm:5", "hybridvsock:v.sock:5"]


@pytest.mark.parametrize("build", LISTENERS)
def test_every_listener_queues_as_many_as_the_kernel_allows_by_default(
    somaxconn: Callable[[str], Any], build: Callable[..., Any]
) -> None:
    somaxconn("1234")
    assert build()._backlog == 1234
    assert build(backlog=None)._backlog == 1234


@pytest.mark.parametrize("description", LISTENER_STRINGS)
def test_every_listener_string_queues_as_many_as_the_kernel_allows_by_default(
    somaxconn: Callable[[str], Any], description: str
) -> None:
    somaxconn("1234")
    assert serverFromString(MemoryReactor(), description)._backlog == 1234


@pytest.mark.parametrize("backlog", [1, 50, 5000])
@pytest.mark.parametrize("build", LISTENERS)
def test_a_backlog_given_replaces_the_default(
    somaxconn: Callable[[str], Any], build: Callable[..., Any], backlog: int
) -> None:
    # Above the kernel's limit too: listen() itself caps it.
    somaxconn("1234")
    assert build(backlog=backlog)._backlog == backlog


@pytest.mark.parametrize("description", LISTENER_STRINGS)
def test_a_backlog_in_a_string_replaces_the_default(
    somaxconn: Callable[[str], Any], description: str
) -> None:
    somaxconn("1234")
    endpoint = serverFromString(MemoryReactor(), f"{description}:backlog=50")
    assert endpoint._backlog == 50


@pytest.mark.parametrize("timeout", [MAX_TIMEOUT * 2, 1e19, 1e300, float("inf")])
@pytest.mark.parametrize(
    "build",
    [
        lambda timeout: VSockClientEndpoint(MemoryReactor(), 3, 5, timeout=timeout),
        lambda timeout: HybridVSockClientEndpoint(
            MemoryReactor(), "/tmp/v.sock", 5, timeout=timeout
        ),
    ],
)
def test_a_timeout_the_kernel_cannot_hold_is_refused(
    build: Any, timeout: float
) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive, finite number"):
        build(timeout)


def test_the_longest_timeout_is_accepted() -> None:
    VSockClientEndpoint(MemoryReactor(), 3, 5, timeout=MAX_TIMEOUT)
    clientFromString(MemoryReactor(), f"vsock:3:5:timeout={MAX_TIMEOUT:.0f}")


@pytest.mark.parametrize(
    "build",
    [
        lambda path: HybridVSockServerEndpoint(MemoryReactor(), path, 5),
        lambda path: HybridVSockClientEndpoint(MemoryReactor(), path, 5),
        lambda path: HyperkitServerEndpoint(MemoryReactor(), path, 5),
    ],
)
def test_a_path_the_os_cannot_encode_is_a_value_error_naming_path(build: Any) -> None:
    with pytest.raises(ValueError, match=r"^path '/tmp/\\ud800.*' cannot be written"):
        build("/tmp/\ud800")


@pytest.mark.parametrize("text", ["hybridvsock:path=/tmp/\ud800:port=5"])
def test_an_unencodable_path_in_a_string_is_a_value_error(text: str) -> None:
    for build in (serverFromString, clientFromString):
        with pytest.raises(ValueError, match="path"):
            build(MemoryReactor(), text)


def test_a_listener_failing_after_bind_closes_its_socket_and_removes_its_file(
    tmp_path: Path,
) -> None:
    # listen() refuses a backlog the checks would have stopped: whatever
    # fails between socket() and a listening port, nothing is left.
    path = str(tmp_path / "s.sock")
    fds = open_fds()
    port = ThreadedPort(UNIX, path, Factory.forProtocol(Protocol), 2**40, reactor)
    with pytest.raises(OverflowError):
        port.startListening()
    assert not os.path.lexists(path)
    assert open_fds() == fds
