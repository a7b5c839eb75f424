"""
The socket families a thread-engine test runs over, and how it listens and
connects over each: Unix sockets and AF_HYPERV (Windows' socket layer played
by fake_hyperv) on the host, AF_VSOCK (CID 1) in the guest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from twisted.internet import reactor

from twisted_hvsock._sockets import hyperv
from twisted_hvsock.address import CID_LOCAL
from twisted_hvsock.hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_ids import VM_LOOPBACK
from twisted_hvsock.threaded_unix import (
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
)
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from .fake_hyperv import FakeHyperV


@dataclass
class Family:
    """How a test listens and connects over one socket family."""

    name: str
    address_type: type
    io: str = "threads"

    def install(self) -> None:
        """In a process of its own: for AF_HYPERV, play Windows' socket layer."""
        if self.name == "hyperv":
            hyperv._socket_module = FakeHyperV().module

    def server(self) -> Any:
        if self.name == "unix":
            name = b"\0hvsock-test-" + uuid.uuid4().hex.encode()
            return ThreadedUNIXServerEndpoint(reactor, name)
        if self.name == "hyperv":
            return HyperVServerEndpoint(reactor, uuid.uuid4())
        return VSockServerEndpoint(reactor, 0, io=self.io)

    def client(self, port: Any, timeout: float = 30) -> Any:
        host = port.getHost()
        if self.name == "unix":
            return ThreadedUNIXClientEndpoint(reactor, host.name, timeout=timeout)
        if self.name == "hyperv":
            return HyperVClientEndpoint(
                reactor, VM_LOOPBACK, host.service_id, timeout=timeout
            )
        return VSockClientEndpoint(
            reactor, CID_LOCAL, host.port, timeout=timeout, io=self.io
        )


def installed(request: pytest.FixtureRequest) -> Family:
    family: Family = request.param
    if family.name == "hyperv":
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr(hyperv, "_socket_module", FakeHyperV().module)
    return family
