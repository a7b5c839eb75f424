"""
Arguments out of range fail at once, as a ``ValueError`` naming them, before
any socket is made; and a listener that fails after binding leaves nothing.
"""

from __future__ import annotations

import os
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
    VSockClientEndpoint,
    VSockServerEndpoint,
)
from twisted_hvsock._checks import MAX_BACKLOG, MAX_TIMEOUT
from twisted_hvsock._engines.threads import UNIX, ThreadedPort

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
