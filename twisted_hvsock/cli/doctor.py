"""
``hvsock doctor``: what this machine offers for each kind of endpoint, and
how to get what is missing. It only looks: it connects nowhere.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.python import usage

from .._sockets.hyperv import hyperv_backend, new_hyperv_socket
from ..address import VSOCK_DEVICE, local_cid
from ..hyperv_services import registered_services
from .command_options import CommandOptions

# Kernel modules that carry AF_VSOCK traffic, and what each one is for.
VSOCK_TRANSPORTS = {
    "vsock_loopback": "loopback: CID 1 reaches this machine itself",
    "vmw_vsock_virtio_transport": (
        "guest: talks to a KVM, Firecracker or Cloud Hypervisor host"
    ),
    "vhost_vsock": "host: talks to KVM/QEMU guests with a vhost-vsock device",
    "hv_sock": "guest: talks to a Hyper-V host",
    "vmw_vsock_vmci_transport": "guest or host: VMware",
}


@dataclass(frozen=True)
class Finding:
    """
    One line of the report: what was checked, whether it is there, the fix.

    :ivar note: something worth knowing that is not a problem (a test-only
        transport that is missing, say): it never fails the command.
    """

    ok: bool
    what: str
    fix: str = ""
    note: bool = False

    @property
    def problem(self) -> bool:
        """Whether this line says something needed is missing."""
        return not self.ok and not self.note

    def __str__(self) -> str:
        mark = "ok " if self.ok else ("-  " if self.note else "no ")
        return f"{mark} {self.what}" + (f"\n      fix: {self.fix}" if self.fix else "")


#: Where sysfs is: the driver bindings of virtio devices are read there.
SYS = Path("/sys")
#: The host side's device, which QEMU opens for a guest's vhost-vsock device.
VHOST_VSOCK_DEVICE = "/dev/vhost-vsock"


def kernel_modules(sys_module: Path = SYS / "module") -> set[str]:
    """
    The kernel modules present now, loaded or built in (``/sys/module`` lists
    both, where ``/proc/modules`` lists only the loaded ones).
    """
    try:
        return {entry.name for entry in sys_module.iterdir()}
    except OSError:
        return set()


def bound_virtio_devices(driver: str, sys_root: Path = SYS) -> list[str]:
    """The virtio devices ``driver`` is bound to (``virtio3``, ...)."""
    try:
        entries = (sys_root / "bus" / "virtio" / "drivers" / driver).iterdir()
        return sorted(
            entry.name for entry in entries if entry.name.startswith("virtio")
        )
    except OSError:
        return []


def _socket_finding(family: int) -> Finding:
    try:
        socket.socket(family, socket.SOCK_STREAM).close()
    except OSError as e:
        if e.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            return Finding(
                False,
                "AF_VSOCK sockets cannot be created: the kernel has no vsock support",
                "modprobe vsock (and a transport, below)",
            )
        return Finding(False, f"AF_VSOCK sockets cannot be created ({e})")
    return Finding(True, "AF_VSOCK sockets can be created")


def _cid_finding(device: str) -> Finding:
    try:
        return Finding(True, f"{device}: this machine's CID is {local_cid(device)}")
    except FileNotFoundError:
        return Finding(
            False,
            f"{device} does not exist: the vsock module is not loaded",
            "modprobe vsock (in a guest: modprobe vmw_vsock_virtio_transport)",
        )
    except PermissionError:
        # Sockets do not need the device; only learning the CID does.
        return Finding(
            False,
            f"{device} is not readable by this user, so this machine's CID is "
            "unknown here; sockets do not need it",
            f"run as root, or let this user read {device} (a udev rule)",
            note=True,
        )
    except OSError as e:
        return Finding(False, f"{device}: {e.strerror or e}")


def _transport_findings(
    modules: set[str], sys_root: Path, vhost_device: str
) -> list[Finding]:
    findings = []
    for name in (name for name in VSOCK_TRANSPORTS if name in modules):
        what = f"transport {name} ({VSOCK_TRANSPORTS[name]})"
        if name == "vmw_vsock_virtio_transport":
            devices = bound_virtio_devices(name, sys_root)
            if not devices:
                findings.append(
                    Finding(
                        False,
                        f"transport {name} is loaded but no virtio vsock device "
                        "is bound: this VM has no vsock device, so the host "
                        "(CID 2) cannot be reached",
                        "give the VM a vsock device (QEMU: -device "
                        "vhost-vsock-pci,guest-cid=3; Firecracker or Cloud "
                        "Hypervisor: a vsock entry in the VM's configuration)",
                    )
                )
                continue
            what += f", bound to {', '.join(devices)}"
        if name == "vhost_vsock" and not os.path.exists(vhost_device):
            findings.append(
                Finding(
                    False,
                    f"transport {name} is loaded but {vhost_device} is missing: "
                    "QEMU cannot give guests a vsock device",
                    f"check that udev created {vhost_device} (or modprobe -r "
                    "vhost_vsock && modprobe vhost_vsock)",
                )
            )
            continue
        findings.append(Finding(True, what))
    return findings


def check_vsock(
    modules: set[str],
    *,
    sys_root: Path = SYS,
    device: str = VSOCK_DEVICE,
    vhost_device: str = VHOST_VSOCK_DEVICE,
) -> list[Finding]:
    """
    Linux AF_VSOCK: the socket family, the device and this machine's CID,
    and each transport, checked against the devices it needs, not only its
    module.
    """
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        return [
            Finding(
                False,
                f"AF_VSOCK (vsock: endpoints): this Python on {sys.platform} has none",
                "vsock: endpoints need Linux",
            )
        ]
    findings = [_socket_finding(family), _cid_finding(device)]
    transports = _transport_findings(modules, sys_root, vhost_device)
    findings.extend(transports)
    if not any(VSOCK_TRANSPORTS.keys() & modules):
        findings.append(
            Finding(
                False,
                "no vsock transport is loaded: connections reach nothing",
                "modprobe vmw_vsock_virtio_transport (in a guest), vhost_vsock "
                "(on a KVM host) or vsock_loopback (CID 1, for tests)",
            )
        )
    elif "vsock_loopback" not in modules:
        findings.append(
            Finding(
                False,
                "transport vsock_loopback: CID 1 does not reach this machine",
                "modprobe vsock_loopback (only needed to test on one machine)",
                note=True,
            )
        )
    return findings


def check_hyperv() -> list[Finding]:
    """Hyper-V sockets: AF_HYPERV on Windows, AF_VSOCK in a Linux guest."""
    backend = hyperv_backend()
    if backend == "af_hyperv":
        try:
            new_hyperv_socket().close()
        except OSError as e:
            return [
                Finding(
                    False,
                    f"AF_HYPERV sockets cannot be created: {e}",
                    "enable Hyper-V: Enable-WindowsOptionalFeature -Online "
                    "-FeatureName Microsoft-Hyper-V -All",
                )
            ]
        findings = [Finding(True, "AF_HYPERV sockets can be created (hvsock:)")]
        try:
            count = len(registered_services())
        except OSError as e:
            findings.append(Finding(False, f"registered services unreadable: {e}"))
        else:
            findings.append(
                Finding(
                    True,
                    f"{count} Hyper-V socket services registered "
                    "('hvsock services' lists them)",
                )
            )
        return findings
    if sys.platform == "win32":
        return [
            Finding(
                False,
                "AF_HYPERV (hvsock: endpoints): needs Python 3.12 or newer",
                "upgrade Python",
            )
        ]
    if backend == "af_vsock":
        return [
            Finding(
                True,
                "AF_HYPERV is Windows only; here hvsock: strings map onto "
                "AF_VSOCK (vm=parent: CID 2, vm=loopback: CID 1; hv_sock on Hyper-V)",
            )
        ]
    return [Finding(False, "AF_HYPERV (hvsock: endpoints): Windows or Linux only")]


def check_unix() -> Finding:
    """Unix sockets, which hyperkit and hybrid vsock tunnel through."""
    if hasattr(socket, "AF_UNIX"):
        return Finding(True, "AF_UNIX (hyperkit: and hybridvsock: endpoints)")
    return Finding(False, "AF_UNIX (hyperkit: and hybridvsock: endpoints) is missing")


#: What ``hvsock doctor CAPABILITY`` can be asked about.
CAPABILITIES = ("vsock", "hyperv", "unix")


def report(
    modules: set[str] | None = None, capabilities: Sequence[str] = CAPABILITIES
) -> list[Finding]:
    """Everything ``hvsock doctor`` prints for ``capabilities``, in order."""
    if modules is None:
        modules = kernel_modules()
    findings: list[Finding] = []
    if "vsock" in capabilities:
        findings.extend(check_vsock(modules))
    if "hyperv" in capabilities:
        findings.extend(check_hyperv())
    if "unix" in capabilities:
        findings.append(check_unix())
    return findings


class Options(CommandOptions):
    synopsis = f"hvsock doctor [{'|'.join(CAPABILITIES)} ...]"
    longdesc = """Say which hypervisor sockets this machine offers, and for what is
missing, how to get it. Connects nowhere. Exits with status 1 when
something asked about is missing (a line starting "no"); lines starting "-"
are notes, which never fail it. Without a capability, every one is checked:
vsock (vsock: endpoints), hyperv (hvsock:), unix (hyperkit:, hybridvsock:).

Examples:
  hvsock doctor
  hvsock doctor vsock       in a guest: can it reach the host?
"""

    def parseArgs(self, *capabilities: str) -> None:
        # A capability names a thing (VSOCK, Hyper-V's hvsock): any case.
        names = tuple(name.lower() for name in capabilities)
        unknown = [
            given
            for given, name in zip(capabilities, names, strict=True)
            if name not in CAPABILITIES
        ]
        if unknown:
            raise usage.UsageError(
                f"unknown capability {unknown[0]!r}; one of {', '.join(CAPABILITIES)}"
            )
        self["capabilities"] = names or CAPABILITIES


def run(reactor: Any, options: Options) -> Deferred[int]:
    findings = report(capabilities=options["capabilities"])
    for finding in findings:
        print(finding)
    return succeed(1 if any(finding.problem for finding in findings) else 0)
