"""
``hvsock vms``: the VMs libvirt and systemd-machined know on this Linux
host, with their CIDs: what ``vsock:vm=NAME`` looks up.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from ..linux_vm_names import RESOLVERS, LinuxVM, Resolver, check_resolver, list_vms
from .command_options import CommandOptions


def _resolver(text: str) -> Resolver | None:
    return check_resolver(text.strip().lower(), "--resolver")


class Options(CommandOptions):
    synopsis = f"hvsock vms [--resolver {'|'.join(RESOLVERS)}]"
    longdesc = """List the VMs that libvirt (virsh) and systemd-machined (machinectl,
systemd 256 or later) know, with each one's CID: the number vsock:cid=
takes, and the one vsock:vm=NAME looks up when it connects. A VM that is
not running, or has no vsock device, has no CID ("-"). libvirt is asked
read-only; machined knows running machines only, and only VMs are listed.
Exits with status 1 when neither command is installed, or one fails.

Examples:
  hvsock vms
  hvsock vms --resolver machined
  hvsock cat vsock:vm=fedora:5000     connect to the VM named fedora
"""
    optParameters = [
        [
            "resolver",
            "r",
            None,
            f"ask only {' or '.join(RESOLVERS)}",
            _resolver,
        ],
    ]


def table(vms: list[LinuxVM]) -> list[str]:
    """The lines ``hvsock vms`` prints for ``vms``."""
    if not vms:
        return ["No VMs."]
    rows = [("NAME", "CID", "RESOLVER", "STATE")]
    rows += [
        (vm.name, "-" if vm.cid is None else str(vm.cid), vm.resolver, vm.state)
        for vm in vms
    ]
    name, cid, resolver = (max(len(row[i]) for row in rows) for i in range(3))
    return [
        f"{row[0]:{name}}  {row[1]:>{cid}}  {row[2]:{resolver}}  {row[3]}"
        for row in rows
    ]


def run(reactor: Any, options: Options) -> Deferred[int]:
    # Each manager's command may take a while: not on the reactor's thread.
    listing: Deferred[list[LinuxVM]] = deferToThread(list_vms, options["resolver"])

    def show(vms: list[LinuxVM]) -> int:
        for line in table(vms):
            print(line)
        return 0

    return listing.addCallback(show)
