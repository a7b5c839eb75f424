"""
``hvsock doctor`` reports what is there and how to get what is not.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from twisted_hvsock.cli.doctor import check_vsock, kernel_modules, report

from .tools import hvsock


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


def test_doctor_runs_as_a_command() -> None:
    result = hvsock("doctor")
    assert result.returncode == 0
    assert "AF_VSOCK" in result.stdout.decode()


@pytest.mark.kernel
def test_doctor_in_the_guest_names_the_loopback_transport() -> None:
    output = hvsock("doctor").stdout.decode()
    assert "ok  transport vsock_loopback" in output
    assert "this machine's CID is" in output
