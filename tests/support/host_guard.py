"""
The host guard: outside the guest VM, no AF_VSOCK socket may connect.

This machine's kernel has AF_VSOCK but no loopback transport; its only vsock
peer is the hosting infrastructure, which no test may reach. The guard is
installed when the ``tests`` package is imported, so it holds under every
runner (pytest, trial, unittest, a script importing a helper), not only
under pytest's fixtures.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

#: Set by tests/vm/run inside the guest, where CID 1 is a real loopback peer.
IN_VM = os.environ.get("HVSOCK_IN_VM") == "1"

_GUARDED = ("connect", "connect_ex")


class HostVSockConnectRefused(AssertionError):
    """A test tried to connect an AF_VSOCK socket outside the guest."""


def refusing(original: Callable[..., Any], family: int) -> Callable[..., Any]:
    """``original`` (a socket method), refusing AF_VSOCK sockets."""

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family == family:
            raise HostVSockConnectRefused(
                f"refused to connect an AF_VSOCK socket to {address!r} outside "
                "the guest VM: the host's only vsock peer is hosting "
                "infrastructure; mark the test kernel so it runs in tests/vm/run"
            )
        return original(self, address)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    return guarded


def install() -> None:
    """
    Refuse every AF_VSOCK connect in this process, unless inside the guest:
    CPython's, and the package's own through libc (``tohost=yes``), which
    every such connect goes through.
    """
    family = getattr(socket, "AF_VSOCK", None)
    if IN_VM or family is None:
        return
    for name in _GUARDED:
        current = getattr(socket.socket, name)
        if not hasattr(current, "__wrapped__"):
            setattr(socket.socket, name, refusing(current, family))
    from twisted_hvsock._sockets import libc

    if not hasattr(libc.connect, "__wrapped__"):
        libc.connect = refusing(libc.connect, family)  # type: ignore[assignment]
