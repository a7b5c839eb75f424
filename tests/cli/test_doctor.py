"""
``hvsock doctor`` reports what is there and how to get what is not.
"""

from __future__ import annotations

import socket
import sys
import uuid
from pathlib import Path

import pytest

from twisted_hvsock import hyperv_services
from twisted_hvsock._sockets import hyperv
from twisted_hvsock.cli.doctor import check_hyperv, check_vsock, kernel_modules, report
from twisted_hvsock.hyperv_services import SERVICES_KEY

from ..support.fake_hyperv import FakeHyperV, FakeWinreg
from ..support.hvsock_cli import hvsock


def test_modules_come_from_sys_module(tmp_path: Path) -> None:
    for name in ("vsock", "vsock_loopback"):
        (tmp_path / name).mkdir()
    assert kernel_modules(tmp_path) == {"vsock", "vsock_loopback"}
    assert kernel_modules(tmp_path / "missing") == set()


def test_no_transport_is_reported_with_the_fix() -> None:
    findings = [str(f) for f in check_vsock(set())]
    assert any(
        "no vsock transport is loaded" in f and "modprobe" in f for f in findings
    )


def test_a_guest_transport_without_loopback_says_how_to_test_locally() -> None:
    findings = [str(f) for f in check_vsock({"vmw_vsock_virtio_transport"})]
    assert any(
        f.startswith("ok  transport vmw_vsock_virtio_transport") for f in findings
    )
    assert any("modprobe vsock_loopback" in f for f in findings)


def test_without_af_vsock_it_says_linux_is_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(socket, "AF_VSOCK")
    [finding] = check_vsock({"vsock_loopback"})
    assert not finding.ok
    assert "need Linux" in str(finding)


def test_hyperv_and_unix_are_reported() -> None:
    text = "\n".join(str(f) for f in report(set()))
    assert "AF_HYPERV" in text
    assert "ok  AF_UNIX" in text


def test_on_linux_hvsock_strings_are_said_to_map_onto_vsock() -> None:
    [finding] = check_hyperv()
    assert finding.ok
    assert "map onto AF_VSOCK" in finding.what


def test_on_a_windows_host_af_hyperv_and_the_services_are_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hyperv, "_socket_module", FakeHyperV().module)
    registry = FakeWinreg()
    registry.put(f"{SERVICES_KEY}\\{uuid.uuid4()}", {})
    monkeypatch.setattr(hyperv_services, "_registry_module", registry)
    sockets, services = check_hyperv()
    assert sockets.ok and "AF_HYPERV sockets can be created" in sockets.what
    assert services.ok and services.what.startswith("1 Hyper-V socket services")


def test_on_windows_before_python_3_12_the_fix_is_upgrading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    [finding] = check_hyperv()
    assert not finding.ok
    assert "Python 3.12" in finding.what


def test_doctor_runs_as_a_command() -> None:
    result = hvsock("doctor")
    assert result.returncode == 0
    assert "AF_VSOCK" in result.stdout.decode()


@pytest.mark.kernel
def test_doctor_in_the_guest_names_the_loopback_transport() -> None:
    output = hvsock("doctor").stdout.decode()
    assert "ok  transport vsock_loopback" in output
    assert "this machine's CID is" in output
