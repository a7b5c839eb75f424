"""
Test tiers.

Tests marked ``kernel`` need a real AF_VSOCK kernel with ``vsock_loopback``;
they run only inside the guest VM that ``tests/vm/run`` boots (which sets
``HVSOCK_IN_VM=1``). On the host they are skipped; every AF_VSOCK connect is
refused by the host guard that importing ``tests`` installs
(``tests/support/host_guard.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support.host_guard import IN_VM
from .support.unix import each_engine, short_directory


@pytest.fixture(name="sockdir")
def sockdir_fixture() -> Iterator[str]:
    """A short directory for socket files, removed afterwards."""
    yield from short_directory()


@pytest.fixture(name="io", params=["reactor", "threads"])
def io_fixture(request: pytest.FixtureRequest) -> str:
    """Each I/O engine in turn."""
    return each_engine(request)


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if IN_VM:
        return
    skip = pytest.mark.skip(reason="kernel tier: runs inside the guest (tests/vm/run)")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)
