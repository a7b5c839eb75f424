"""
Peer allow-lists: which peers a listener hands to its protocol factory.

A listener given an allow-list (``vsock:port=80:allow=3,5-9``) checks each
accepted connection's peer against it before any protocol is built; a peer
not on the list is closed at once, logged and counted on the listening
port's ``refused`` attribute.

``privileged=yes`` adds another check of the same kind,
:class:`PrivilegedPeers`: the peer's source port must be a reserved one.

The checks are values: this module needs no socket and imports on every
operating system.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from twisted.internet.interfaces import IAddress

from .address import CID_ANY, CID_NAMES, VSockAddress, parse_cid
from .hyperv_ids import VM_LOOPBACK, VM_NAMES, VM_PARENT, HyperVAddress, parse_guid

__all__ = [
    "CID_ALLOW_FORMS",
    "CID_ALLOW_NAMES",
    "RESERVED_PORTS",
    "VM_ALLOW_FORMS",
    "VM_ALLOW_NAMES",
    "PeerAllowList",
    "PrivilegedPeers",
    "check_allow",
    "parse_cid_allow",
    "parse_vm_allow",
]

#: The names a CID allow-list accepts: every CID name but the wildcard,
#: which is no peer.
CID_ALLOW_NAMES: dict[str, int] = {
    name: cid for name, cid in CID_NAMES.items() if cid != CID_ANY
}
#: The names a Hyper-V allow-list accepts: the partitions a peer can be.
VM_ALLOW_NAMES: dict[str, uuid.UUID] = {"parent": VM_PARENT, "loopback": VM_LOOPBACK}

#: What a CID allow-list may hold, quoted in its errors.
CID_ALLOW_FORMS = (
    f"comma-separated CIDs, <low>-<high> ranges, {'|'.join(CID_ALLOW_NAMES)} "
    "and VM names, e.g. 3,5-9,host,web"
)
#: What a Hyper-V allow-list may hold, quoted in its errors.
VM_ALLOW_FORMS = (
    f"comma-separated VM GUIDs, VM names and {'|'.join(VM_ALLOW_NAMES)}, "
    "e.g. parent,MyVM"
)


@dataclass(frozen=True)
class PeerAllowList:
    """
    The peers a listener accepts.

    :param cid_ranges: inclusive ``(low, high)`` CID ranges, for AF_VSOCK
        peers (:class:`~twisted_hvsock.address.VSockAddress`).
    :param vm_ids: VM IDs, for Hyper-V socket peers
        (:class:`~twisted_hvsock.hyperv_ids.HyperVAddress`).
    :param vm_names: VMs' names, looked up when the listener starts: a
        Hyper-V VM's display name on the Windows host (:meth:`resolved`), a
        libvirt or systemd-machined VM's name on a Linux host
        (:meth:`resolved_cids`); until then they match no peer.
    """

    cid_ranges: tuple[tuple[int, int], ...] = ()
    vm_ids: frozenset[uuid.UUID] = frozenset()
    vm_names: frozenset[str] = frozenset()

    def allows(self, peer: IAddress) -> bool:
        """
        Whether ``peer``, an accepted connection's address, is on the list;
        an address of any other kind is not.
        """
        if isinstance(peer, VSockAddress):
            return any(low <= peer.cid <= high for low, high in self.cid_ranges)
        if isinstance(peer, HyperVAddress):
            return peer.vm_id in self.vm_ids
        return False

    def __str__(self) -> str:
        # The list as an allow= option spells it; parsing it gives it back.
        pieces = [
            str(low) if low == high else f"{low}-{high}"
            for low, high in self.cid_ranges
        ]
        pieces.extend(str(vm_id) for vm_id in sorted(self.vm_ids, key=str))
        pieces.extend(sorted(self.vm_names))
        return ",".join(pieces)

    def resolved(self, vm_id_of: Callable[[str], uuid.UUID]) -> PeerAllowList:
        """
        This list with each VM name replaced by its VM's ID.

        :param vm_id_of: gives the ID of the VM with a name, or raises
            (:func:`~twisted_hvsock.hyperv_vm_names.resolve_vm_name`).
        """
        if not self.vm_names:
            return self
        ids = {vm_id_of(name) for name in sorted(self.vm_names)}
        return replace(self, vm_ids=self.vm_ids | ids, vm_names=frozenset())

    def resolved_cids(self, cid_of: Callable[[str], int]) -> PeerAllowList:
        """
        This list with each VM name replaced by its VM's CID.

        :param cid_of: gives the CID of the running VM with a name, or raises
            (:func:`~twisted_hvsock.linux_vm_names.resolve_vm_cid`).
        """
        if not self.vm_names:
            return self
        cids = {(cid, cid) for cid in map(cid_of, sorted(self.vm_names))}
        ranges = tuple(sorted(set(self.cid_ranges) | cids))
        return replace(self, cid_ranges=ranges, vm_names=frozenset())


def _items(text: str, name: str, forms: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise ValueError(f"{name} must be {forms}, got {text!r}")
    return items


def _cid(text: str, name: str) -> int:
    named = CID_ALLOW_NAMES.get(text.lower())
    if named is not None:
        return named
    return parse_cid(text, allow_any=False, name=name)


def _is_cid_text(item: str) -> bool:
    """Whether an item is written as a CID or a range, not as a VM's name."""
    parts = [part.strip() for part in item.split("-")]
    return all(not p or p.isdigit() or p.lower() in CID_NAMES for p in parts)


def parse_cid_allow(text: str, name: str = "allow") -> PeerAllowList:
    """
    Parse a CID allow-list: ``3``, ``3,5-9``, ``host,local``, ``3,web``.

    :param text: comma-separated CIDs, inclusive ranges ``<low>-<high>``,
        the names ``hypervisor`` (0), ``local`` (1) and ``host`` (2), or
        the names of VMs on this Linux host, anything else (looked up when
        the listener starts; see :mod:`twisted_hvsock.linux_vm_names`).
    :raises ValueError: naming ``name`` and the accepted forms.
    """
    ranges = set()
    vm_names = set()
    for item in _items(text, name, CID_ALLOW_FORMS):
        if not _is_cid_text(item):
            vm_names.add(item)
            continue
        low_text, dash, high_text = item.partition("-")
        try:
            low = _cid(low_text.strip(), name)
            high = _cid(high_text.strip(), name) if dash else low
        except ValueError:
            raise ValueError(
                f"{name} must be {CID_ALLOW_FORMS}, got {text!r}"
            ) from None
        if low > high:
            raise ValueError(
                f"{name}: the range {item!r} runs backwards; "
                f"{name} must be {CID_ALLOW_FORMS}"
            )
        ranges.add((low, high))
    return PeerAllowList(cid_ranges=tuple(sorted(ranges)), vm_names=frozenset(vm_names))


def parse_vm_allow(text: str, name: str = "allow") -> PeerAllowList:
    """
    Parse a Hyper-V allow-list: ``parent``,
    ``1b4e28ba-2fa1-11d2-883f-0016d3cca427,loopback``, ``parent,MyVM``.

    :param text: comma-separated VM GUIDs, the names ``parent`` and
        ``loopback``, or VMs' display names: anything else but the other
        well-known partitions (``wildcard``, ``children``, ...), which are
        no peer.
    :raises ValueError: naming ``name`` and the accepted forms.
    """
    vm_ids = set()
    vm_names = set()
    for item in _items(text, name, VM_ALLOW_FORMS):
        named = VM_ALLOW_NAMES.get(item.lower())
        if named is not None:
            vm_ids.add(named)
        elif item.lower() in VM_NAMES:
            raise ValueError(
                f"{name} must be {VM_ALLOW_FORMS}, got {text!r} "
                f"({item!r} is no single peer)"
            )
        else:
            try:
                vm_ids.add(parse_guid(item, name))
            except ValueError:
                vm_names.add(item)
    return PeerAllowList(vm_ids=frozenset(vm_ids), vm_names=frozenset(vm_names))


def check_allow(value: object, *, hyperv: bool = False) -> PeerAllowList | None:
    """
    Check the ``allow`` argument of a server endpoint and return the list.

    :param value: ``None`` (accept every peer), a :class:`PeerAllowList`,
        or its text, parsed by :func:`parse_cid_allow` (or, for ``hyperv``,
        :func:`parse_vm_allow`).
    :param hyperv: whether the listener is a Hyper-V one.
    :raises ValueError: naming ``allow`` and the accepted forms.
    """
    if value is None or isinstance(value, PeerAllowList):
        return value
    if isinstance(value, str):
        return parse_vm_allow(value) if hyperv else parse_cid_allow(value)
    forms = VM_ALLOW_FORMS if hyperv else CID_ALLOW_FORMS
    raise ValueError(f"allow must be a PeerAllowList or text of {forms}, got {value!r}")


#: Ports below this are reserved: binding one needs root
#: (``CAP_NET_BIND_SERVICE``), in a guest as on a host.
RESERVED_PORTS = 1024


@dataclass(frozen=True)
class PrivilegedPeers:
    """
    The peers whose source port is reserved (below :data:`RESERVED_PORTS`):
    only a privileged process of that machine can bind such a port, so a
    connection from one was made by root (or a holder of
    ``CAP_NET_BIND_SERVICE``) there. vsock has no peer credentials; this is
    the check systemd makes of a guest's notifications.

    It proves nothing about which machine: combine it with an allow-list of
    CIDs. A listener given both accepts a peer only when both allow it.
    """

    def allows(self, peer: IAddress) -> bool:
        """Whether ``peer`` is an AF_VSOCK address with a reserved port."""
        return isinstance(peer, VSockAddress) and peer.port < RESERVED_PORTS

    def __str__(self) -> str:
        return "privileged=yes"
