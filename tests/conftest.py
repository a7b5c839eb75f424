"""
Test tiers.

Tests marked ``kernel`` need a real AF_VSOCK kernel with ``vsock_loopback``;
they run only inside the guest VM that ``tests/vm/run`` boots (which sets
``HVSOCK_IN_VM=1``). On the host they are skipped; every AF_VSOCK connect is
refused by the host guard that importing ``tests`` installs
(``tests/support/host_guard.py``).
"""

from __future__ import annotations

import pytest

from .support.host_guard import IN_VM


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if IN_VM:
        return
    skip = pytest.mark.skip(reason="kernel tier: runs inside the guest (tests/vm/run)")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)
