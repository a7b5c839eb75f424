"""
The host guard holds under every runner: outside the guest VM no AF_VSOCK
socket connects, and trial says the suite is pytest's instead of passing.

None of these tests lets a real AF_VSOCK connect happen: the guarded call is
made on a stand-in whose own connect records instead of connecting.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from twisted_hvsock._sockets import libc
from twisted_hvsock._sockets.vsock_client import ToHostSocket

from .support import host_guard

ROOT = Path(__file__).resolve().parents[1]
AF_VSOCK = getattr(socket, "AF_VSOCK", None)

pytestmark = pytest.mark.skipif(
    host_guard.IN_VM or AF_VSOCK is None,
    reason="the guard is for hosts whose kernel has AF_VSOCK",
)


class StandIn:
    """A socket-shaped object: its family, and a connect that records."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.connected: list[Any] = []

    def connect(self, address: Any) -> None:
        self.connected.append(address)


@pytest.mark.parametrize("name", ["connect", "connect_ex"])
def test_importing_tests_guards_socket_connects(name: str) -> None:
    assert hasattr(getattr(socket.socket, name), "__wrapped__")


def test_the_guard_refuses_an_af_vsock_socket_before_any_system_call() -> None:
    assert AF_VSOCK is not None
    stand_in = StandIn(AF_VSOCK)
    guarded = host_guard.refusing(StandIn.connect, AF_VSOCK)
    with pytest.raises(host_guard.HostVSockConnectRefused, match="outside the guest"):
        guarded(stand_in, (2, 1024))
    assert stand_in.connected == []


def test_the_guard_lets_other_families_through() -> None:
    assert AF_VSOCK is not None
    stand_in = StandIn(socket.AF_UNIX)
    host_guard.refusing(StandIn.connect, AF_VSOCK)(stand_in, "/tmp/x")
    assert stand_in.connected == ["/tmp/x"]


def test_the_guard_holds_without_pytest() -> None:
    # A plain script that imports a test helper, as any other runner would.
    # A plain script that imports a test helper, as any other runner would;
    # the call goes to a stand-in, so an unguarded connect fails with a
    # TypeError instead of reaching any CID.
    script = textwrap.dedent(
        """
        import socket
        import tests.support.vsock

        class StandIn:
            family = socket.AF_VSOCK

        try:
            socket.socket.connect(StandIn(), (2, 1024))
        except AssertionError as e:
            print("refused:", type(e).__name__)
        except TypeError:
            print("not guarded")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.stdout.strip() == "refused: HostVSockConnectRefused", result.stderr


def test_trial_says_the_suite_runs_under_pytest_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twisted.trial", "tests.test_address"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode != 0
    assert "run under pytest, not trial" in result.stdout + result.stderr
    assert "PASSED" not in result.stdout


def test_importing_tests_guards_the_packages_own_connect() -> None:
    # tohost=yes connects through libc, around CPython's connect.
    assert hasattr(libc.connect, "__wrapped__")


def test_a_to_host_connect_is_refused_before_any_system_call() -> None:
    assert AF_VSOCK is not None
    # A stand-in has no descriptor: were the guard missing, libc.connect
    # would fail on it without a system call.
    stand_in: Any = StandIn(AF_VSOCK)
    with pytest.raises(host_guard.HostVSockConnectRefused, match="outside the guest"):
        ToHostSocket.connect_ex(stand_in, (3, 1024))
