"""
Test tiers.

Tests marked ``kernel`` need a real AF_VSOCK kernel with ``vsock_loopback``;
they run only inside the guest VM that ``tests/vm/run`` boots (which sets
``HVSOCK_IN_VM=1``). On the host they are skipped, and every AF_VSOCK connect
is refused outright: this machine's only vsock peer is hosting
infrastructure that tests must never reach.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

IN_VM = os.environ.get("HVSOCK_IN_VM") == "1"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if IN_VM:
        return
    skip = pytest.mark.skip(reason="kernel tier: runs inside the guest (tests/vm/run)")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _refuse_vsock_connect_on_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    family = getattr(socket, "AF_VSOCK", None)
    if IN_VM or family is None:
        yield
        return
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def guarded(
            self: socket.socket, address: Any, _original: Any = original
        ) -> Any:
            if self.family == family:
                raise AssertionError(
                    "a host-tier test tried to connect an AF_VSOCK socket; "
                    "mark it kernel so it runs in the guest"
                )
            return _original(self, address)

        monkeypatch.setattr(socket.socket, name, guarded)
    yield
