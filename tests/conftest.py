"""
Test tiers.

Tests marked ``kernel`` need a real AF_VSOCK kernel with ``vsock_loopback``;
they run only inside the guest VM that ``tests/vm/run`` boots (which sets
``HVSOCK_IN_VM=1``). On the host they are skipped; every AF_VSOCK connect is
refused by the host guard that importing ``tests`` installs
(``tests/support/host_guard.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from twisted_hvsock._sockets import hyperv

from .support.fake_hyperv import FakeHyperV, FakePowerShell
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


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> FakeHyperV:
    """A Windows host's socket layer, played by FakeHyperV."""
    fake = FakeHyperV()
    monkeypatch.setattr(hyperv, "_socket_module", fake.module)
    return fake


@pytest.fixture
def powershell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakePowerShell]:
    """PowerShell with Hyper-V's module, played on PATH by FakePowerShell."""
    fake = FakePowerShell(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    yield fake


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if IN_VM:
        return
    skip = pytest.mark.skip(reason="kernel tier: runs inside the guest (tests/vm/run)")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)
