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
from twisted_hvsock.cli import doctor
from twisted_hvsock.cli.doctor import (
    Finding,
    check_hyperv,
    check_vsock,
    kernel_modules,
    report,
)
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
    # Whether this machine lacks something is not the test's to say.
    assert result.returncode in (0, 1), result.stderr
    assert "AF_VSOCK" in result.stdout.decode()


def test_doctor_checks_only_what_it_is_asked_about() -> None:
    result = hvsock("doctor", "unix")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.decode() == "ok  AF_UNIX (hyperkit: and hybridvsock: endpoints)\n"
    )


@pytest.mark.parametrize("name", ["UNIX", "Unix"])
def test_doctor_takes_a_capability_in_any_case(name: str) -> None:
    result = hvsock("doctor", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("ok  AF_UNIX")


def test_transports_are_named_in_words() -> None:
    described = " ".join(doctor.VSOCK_TRANSPORTS.values())
    assert "Cloud Hypervisor" in described
    assert "CH " not in described


def test_doctor_refuses_an_unknown_capability() -> None:
    result = hvsock("doctor", "vsocks")
    assert result.returncode == 2
    assert "unknown capability 'vsocks'" in result.stderr.decode()


@pytest.mark.parametrize(
    ("findings", "status"),
    [
        ([Finding(True, "fine")], 0),
        ([Finding(True, "fine"), Finding(False, "only for tests", note=True)], 0),
        ([Finding(True, "fine"), Finding(False, "missing")], 1),
    ],
)
def test_doctor_exits_1_when_something_asked_about_is_missing(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    findings: list[Finding],
    status: int,
) -> None:
    monkeypatch.setattr(doctor, "report", lambda capabilities: findings)
    options = doctor.Options()
    options.parseOptions([])
    outcome: list[int] = []
    doctor.run(None, options).addCallback(outcome.append)
    assert outcome == [status]
    assert capsys.readouterr().out.count("\n") == len(findings)


def fake_sysfs(root: Path, driver: str, devices: list[str]) -> Path:
    folder = root / "bus" / "virtio" / "drivers" / driver
    folder.mkdir(parents=True)
    for name in ["bind", "unbind", "uevent", *devices]:
        (folder / name).touch()
    return root


def test_a_virtio_transport_with_no_device_bound_is_a_problem(tmp_path: Path) -> None:
    sys_root = fake_sysfs(tmp_path, "vmw_vsock_virtio_transport", [])
    findings = check_vsock({"vmw_vsock_virtio_transport"}, sys_root=sys_root)
    [virtio] = [f for f in findings if "vmw_vsock_virtio_transport" in f.what]
    assert virtio.problem
    assert "no virtio vsock device is bound" in virtio.what
    assert "vhost-vsock-pci" in virtio.fix


def test_a_virtio_transport_names_the_device_it_is_bound_to(tmp_path: Path) -> None:
    sys_root = fake_sysfs(tmp_path, "vmw_vsock_virtio_transport", ["virtio3"])
    findings = check_vsock({"vmw_vsock_virtio_transport"}, sys_root=sys_root)
    [virtio] = [f for f in findings if "vmw_vsock_virtio_transport" in f.what]
    assert virtio.ok
    assert virtio.what.endswith("bound to virtio3")


def test_vhost_vsock_without_its_device_is_a_problem(tmp_path: Path) -> None:
    findings = check_vsock(
        {"vhost_vsock", "vsock_loopback"}, vhost_device=str(tmp_path / "missing")
    )
    [vhost] = [f for f in findings if "vhost_vsock" in f.what]
    assert vhost.problem
    assert "is missing" in vhost.what


def test_a_missing_vsock_device_says_to_load_the_module(tmp_path: Path) -> None:
    findings = check_vsock({"vsock_loopback"}, device=str(tmp_path / "vsock"))
    [device] = [f for f in findings if "does not exist" in f.what]
    assert device.problem
    assert "modprobe vsock" in device.fix


def test_an_unreadable_vsock_device_is_a_note_not_a_modprobe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(device: str) -> int:
        raise PermissionError(13, "Permission denied", device)

    monkeypatch.setattr(doctor, "local_cid", refuse)
    findings = check_vsock({"vsock_loopback"})
    [device] = [f for f in findings if "not readable" in f.what]
    assert device.note and not device.problem
    assert "modprobe" not in device.fix
    assert "root" in device.fix


@pytest.mark.kernel
def test_doctor_in_the_guest_names_the_loopback_transport() -> None:
    output = hvsock("doctor").stdout.decode()
    assert "ok  transport vsock_loopback" in output
    assert "this machine's CID is" in output
