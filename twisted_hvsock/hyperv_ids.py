"""
Hyper-V socket identifiers: VM IDs, service IDs, and the template that maps a
Linux guest's vsock port onto a service ID.

Pure functions on :class:`uuid.UUID`; nothing here needs Windows.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass

from twisted.internet.interfaces import IAddress
from zope.interface import implementer

from .address import parse_port

__all__ = [
    "AF_HYPERV",
    "HVSOCK_URI_FORM",
    "SOCKADDR_HV_SIZE",
    "VM_BROADCAST",
    "VM_CHILDREN",
    "VM_LOOPBACK",
    "VM_NAMES",
    "VM_PARENT",
    "VM_WILDCARD",
    "HyperVAddress",
    "pack_sockaddr_hv",
    "parse_guid",
    "parse_service_id",
    "parse_vm_id",
    "port_for_service_id",
    "service_id_for_port",
    "split_hvsock_uri",
    "unpack_sockaddr_hv",
]

#: Windows' address family number for Hyper-V sockets.
AF_HYPERV = 34

#: Listen for every partition; also spelled ``zero``.
VM_WILDCARD = uuid.UUID("00000000-0000-0000-0000-000000000000")
#: Every partition.
VM_BROADCAST = uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
#: This partition's child partitions (its VMs).
VM_CHILDREN = uuid.UUID("90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd")
#: This partition itself.
VM_LOOPBACK = uuid.UUID("e0e16197-dd56-4a10-9195-5ee7a155a838")
#: The parent partition (the host, seen from a VM).
VM_PARENT = uuid.UUID("a42e7cda-d03f-480c-9cc2-a4de20abb878")

#: The names accepted wherever a VM ID is given as text.
VM_NAMES: dict[str, uuid.UUID] = {
    "wildcard": VM_WILDCARD,
    "zero": VM_WILDCARD,
    "broadcast": VM_BROADCAST,
    "children": VM_CHILDREN,
    "loopback": VM_LOOPBACK,
    "parent": VM_PARENT,
}

# A Linux guest's vsock port P is the service "%08x-facb-11e6-bd58-64006a7986d3".
_TEMPLATE_TAIL = "-facb-11e6-bd58-64006a7986d3"
_GUID_BODY = r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
# Braces are allowed, as Windows prints GUIDs, but only in pairs.
# fullmatch, not $: a trailing newline must not pass.
_GUID = re.compile(rf"{_GUID_BODY}|\{{{_GUID_BODY}\}}")
_MAX_PORT = 0xFFFFFFFF
_EXAMPLE_GUID = "3049197c-9a4e-4fbf-9367-97f792f16994"


def parse_guid(text: str, name: str) -> uuid.UUID:
    """
    Parse a GUID in the usual 8-4-4-4-12 form, any case, braces allowed.

    :raises ValueError: naming ``name`` when ``text`` is not a GUID.
    """
    if not _GUID.fullmatch(text):
        raise ValueError(f"{name} must be a GUID like {_EXAMPLE_GUID}, got {text!r}")
    return uuid.UUID(text.strip("{}"))


def service_id_for_port(port: int) -> uuid.UUID:
    """
    The Hyper-V service ID under which a Linux guest's vsock ``port`` appears.

    :raises ValueError: if ``port`` is not a 32-bit unsigned integer.
    """
    if (
        isinstance(port, bool)
        or not isinstance(port, int)
        or not 0 <= port <= _MAX_PORT
    ):
        raise ValueError(f"port must be an integer from 0 to {_MAX_PORT}, got {port!r}")
    return uuid.UUID(f"{port:08x}{_TEMPLATE_TAIL}")


def port_for_service_id(service_id: uuid.UUID) -> int:
    """
    The Linux vsock port a template service ID stands for.

    :raises ValueError: if ``service_id`` is outside the template.
    """
    text = str(service_id)
    if not text.endswith(_TEMPLATE_TAIL):
        raise ValueError(
            f"service {text} is not a Linux vsock port: those look like "
            f"<port as 8 hex digits>{_TEMPLATE_TAIL}"
        )
    return int(text[:8], 16)


def parse_service_id(text: str, name: str = "service") -> uuid.UUID:
    """
    Parse a service given as a GUID, or as a decimal vsock port that the
    template turns into one.

    :raises ValueError: naming ``name`` and the accepted forms.
    """
    if text.isascii() and text.isdigit():
        port = parse_port(text, allow_any=True, name=f"{name} as a port")
        return service_id_for_port(port)
    if not _GUID.fullmatch(text):
        raise ValueError(f"{name} must be a GUID or a decimal vsock port, got {text!r}")
    return uuid.UUID(text.strip("{}"))


def parse_vm_id(text: str, name: str = "vm") -> uuid.UUID:
    """
    Parse a VM ID given as a GUID or as one of the names in :data:`VM_NAMES`.

    A VM's display name (``MyVM``) is not a VM ID; resolving one needs the
    host's Hyper-V management service.

    :raises ValueError: naming ``name`` and the accepted forms.
    """
    named = VM_NAMES.get(text.lower())
    if named is not None:
        return named
    if not _GUID.fullmatch(text):
        raise ValueError(
            f"{name} must be a GUID or one of {', '.join(VM_NAMES)}, got {text!r}"
        )
    return uuid.UUID(text.strip("{}"))


@implementer(IAddress)
@dataclass(frozen=True)
class HyperVAddress:
    """
    The address of one end of a Hyper-V socket: a VM (partition) ID and a
    service ID.
    """

    vm_id: uuid.UUID
    service_id: uuid.UUID

    def __str__(self) -> str:
        return f"hvsock://{self.vm_id}/{self.service_id}"

    @classmethod
    def from_uri(cls, uri: str) -> HyperVAddress:
        """
        Parse a Hyper-V socket URI that names a VM ID: the form ``str()``
        prints, ``hvsock://<vm>/<service>``, in the grammar of
        :func:`split_hvsock_uri` (the one :mod:`twisted_hvsock.uri` uses):
        the VM as a GUID or a name from :data:`VM_NAMES`, the service as a
        GUID or a vsock port, a trailing ``/`` allowed.

        A VM's display name (``hvsock://MyVM/80``) is refused: it becomes an
        address only once the Windows host has looked up its ID.

        :raises ValueError: if ``uri`` is not of that form.
        """
        vm, service_id = split_hvsock_uri(uri)
        if not isinstance(vm, uuid.UUID):
            raise ValueError(
                f"{uri!r} names a VM by its name; an address needs its VM ID: "
                f"a GUID or one of {', '.join(VM_NAMES)}"
            )
        return cls(vm, service_id)


#: The form of a Hyper-V socket URI, quoted in its errors.
HVSOCK_URI_FORM = "hvsock://<vm GUID|name>/<service GUID|port>"


def split_hvsock_uri(uri: str) -> tuple[uuid.UUID | str, uuid.UUID]:
    """
    Split a URI of the form :data:`HVSOCK_URI_FORM` into its VM and its
    service ID. :mod:`twisted_hvsock.uri` and :meth:`HyperVAddress.from_uri`
    both parse Hyper-V socket URIs with it.

    :return: the VM ID, for a GUID or a name from :data:`VM_NAMES`, or else
        the VM's display name as it was given; and the service ID.
    :raises ValueError: quoting the form and ``uri``, and naming what is wrong.
    """
    scheme = "hvsock://"
    if not uri.startswith(scheme):
        raise ValueError(f"expected {HVSOCK_URI_FORM}, got {uri!r}")
    vm, slash, service = uri[len(scheme) :].partition("/")
    service = service.removesuffix("/")
    try:
        if not slash or not vm or not service:
            raise ValueError("both the VM and the service are needed")
        service_id = parse_service_id(service)
    except ValueError as e:
        raise ValueError(f"expected {HVSOCK_URI_FORM}, got {uri!r}: {e}") from None
    try:
        return parse_vm_id(vm), service_id
    except ValueError:
        return vm, service_id  # a VM's display name


# SOCKADDR_HV: ADDRESS_FAMILY Family, USHORT Reserved, GUID VmId, GUID
# ServiceId, little-endian; a GUID's first three fields are little-endian
# integers, which is the layout of uuid.UUID.bytes_le.
_SOCKADDR_HV = struct.Struct("<HH16s16s")
#: The size of a ``SOCKADDR_HV`` in bytes.
SOCKADDR_HV_SIZE = _SOCKADDR_HV.size


def pack_sockaddr_hv(address: HyperVAddress) -> bytes:
    """The ``SOCKADDR_HV`` structure Windows' socket calls take for ``address``."""
    return _SOCKADDR_HV.pack(
        AF_HYPERV, 0, address.vm_id.bytes_le, address.service_id.bytes_le
    )


def unpack_sockaddr_hv(data: bytes) -> HyperVAddress:
    """
    The address in a ``SOCKADDR_HV`` structure.

    :raises ValueError: if ``data`` is not a ``SOCKADDR_HV`` of AF_HYPERV.
    """
    if len(data) != SOCKADDR_HV_SIZE:
        raise ValueError(f"a SOCKADDR_HV is {SOCKADDR_HV_SIZE} bytes, got {len(data)}")
    family, _, vm_id, service_id = _SOCKADDR_HV.unpack(data)
    if family != AF_HYPERV:
        raise ValueError(f"expected family AF_HYPERV ({AF_HYPERV}), got {family}")
    return HyperVAddress(uuid.UUID(bytes_le=vm_id), uuid.UUID(bytes_le=service_id))
