"""
``hvsock vms`` lists the VMs libvirt and systemd-machined know, run
in-process against the stand-ins for ``virsh`` and ``machinectl``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_twisted

from ..support.fake_linux_vms import FakeMachinectl, FakeVirsh
from ..support.hvsock_cli import hvsock as hvsock_process
from ..support.hvsock_cli import hvsock_in_process as hvsock


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the stand-ins a test puts there; looked up as root."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return tmp_path


@pytest_twisted.ensureDeferred
async def test_vms_prints_each_vm_with_its_cid(
    bin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    virsh = FakeVirsh(bin_dir)
    virsh.add_domain("web", cid=7)
    virsh.add_domain("build-server", running=False)
    machinectl = FakeMachinectl(bin_dir)
    machinectl.add_machine("fedora", cid=1234)
    assert await hvsock("vms") == 0
    assert capsys.readouterr().out.splitlines() == [
        "NAME           CID  RESOLVER  STATE",
        "build-server     -  libvirt   not running",
        "web              7  libvirt   running",
        "fedora        1234  machined  running",
    ]
    assert await hvsock("vms", "--resolver", "Machined") == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "fedora  1234  machined  running"
    ]


@pytest_twisted.ensureDeferred
async def test_vms_with_none_known_says_so(
    bin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeMachinectl(bin_dir)
    assert await hvsock("vms") == 0
    assert capsys.readouterr().out == "No VMs.\n"


@pytest_twisted.ensureDeferred
async def test_vms_without_virsh_or_machinectl_says_what_to_install(
    bin_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hvsock("vms") == 1
    assert capsys.readouterr().err == (
        "hvsock vms: listing VMs needs virsh (libvirt) or machinectl (machined) "
        "on this Linux host, and none is on PATH\n"
    )


def test_a_resolver_that_is_neither_is_a_usage_error() -> None:
    done = hvsock_process("vms", "--resolver", "xen")
    assert done.returncode == 2
    assert done.stderr.decode().splitlines()[0] == (
        "hvsock vms: --resolver must be libvirt or machined, got 'xen'"
    )
