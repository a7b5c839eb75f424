"""
``hvsock doctor``: what this machine offers for each kind of endpoint, and
how to get what is missing. It only looks: it connects nowhere.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed

from .._sockets.hyperv import hyperv_backend, new_hyperv_socket
from ..address import VSOCK_DEVICE, local_cid
from ..hyperv_services import registered_services
from .command_options import CommandOptions

# Kernel modules that carry AF_VSOCK traffic, and what each one is for.
VSOCK_TRANSPORTS = {
    "vsock_loopback": "loopback: CID 1 reaches this machine itself",
    "vmw_vsock_virtio_transport": "guest: talks to a KVM, Firecracker or CH host",
    "vhost_vsock": "host: talks to KVM/QEMU guests with a vhost-vsock device",
    "hv_sock": "guest: talks to a Hyper-V host",
    "vmw_vsock_vmci_transport": "guest or host: VMware",
}


@dataclass(frozen=True)
class Finding:
    """One line of the report: what was checked, whether it is there, the fix."""

    ok: bool
    what: str
    fix: str = ""

    def __str__(self) -> str:
        mark = "ok " if self.ok else "no "
        return f"{mark} {self.what}" + (f"\n      fix: {self.fix}" if self.fix else "")


def kernel_modules(sys_module: Path = Path("/sys/module")) -> set[str]:
    """
    The kernel modules present now, loaded or built in (``/sys/module`` lists
    both, where ``/proc/modules`` lists only the loaded ones).
    """
    try:
        return {entry.name for entry in sys_module.iterdir()}
    except OSError:
        return set()


def check_vsock(modules: set[str]) -> list[Finding]:
    """Linux AF_VSOCK: the socket family, the device, the CID, the transports."""
    family = getattr(socket, "AF_VSOCK", None)
    if family is None:
        return [
            Finding(
                False,
                f"AF_VSOCK (vsock: endpoints): this Python on {sys.platform} has none",
                "vsock: endpoints need Linux",
            )
        ]
    findings = []
    try:
        socket.socket(family, socket.SOCK_STREAM).close()
        findings.append(Finding(True, "AF_VSOCK sockets can be created"))
    except OSError as e:
        findings.append(
            Finding(
                False, f"AF_VSOCK sockets cannot be created ({e})", "modprobe vsock"
            )
        )
    try:
        findings.append(
            Finding(True, f"{VSOCK_DEVICE}: this machine's CID is {local_cid()}")
        )
    except OSError as e:
        findings.append(
            Finding(False, f"{VSOCK_DEVICE}: {e.strerror or e}", "modprobe vsock")
        )
    present = [name for name in VSOCK_TRANSPORTS if name in modules]
    for name in present:
        findings.append(Finding(True, f"transport {name} ({VSOCK_TRANSPORTS[name]})"))
    if not present:
        findings.append(
            Finding(
                False,
                "no vsock transport is loaded: connections reach nothing",
                "modprobe vmw_vsock_virtio_transport (in a guest), vhost_vsock "
                "(on a KVM host) or vsock_loopback (CID 1, for tests)",
            )
        )
    elif "vsock_loopback" not in present:
        findings.append(
            Finding(
                False,
                "transport vsock_loopback: CID 1 does not reach this machine",
                "modprobe vsock_loopback (only needed to test on one machine)",
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


def report(modules: set[str] | None = None) -> list[Finding]:
    """Everything ``hvsock doctor`` prints, in order."""
    if modules is None:
        modules = kernel_modules()
    return [*check_vsock(modules), *check_hyperv(), check_unix()]


class Options(CommandOptions):
    synopsis = "hvsock doctor"
    longdesc = """Say which hypervisor sockets this machine offers, and for what is
missing, how to get it. Connects nowhere.

Example:
  hvsock doctor
"""


def run(reactor: Any, options: Options) -> Deferred[int]:
    for finding in report():
        print(finding)
    return succeed(0)
