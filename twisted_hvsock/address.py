"""
Linux AF_VSOCK addresses: a 32-bit context ID (CID) and a 32-bit port.

Nothing here needs ``socket.AF_VSOCK`` at import time, so this module imports
on every operating system.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from twisted.internet.interfaces import IAddress
from zope.interface import implementer

__all__ = [
    "CID_ANY",
    "CID_HOST",
    "CID_HYPERVISOR",
    "CID_LOCAL",
    "CID_NAMES",
    "PORT_ANY",
    "VSOCK_DEVICE",
    "VSockAddress",
    "check_cid",
    "check_port",
    "local_cid",
    "parse_cid",
]

#: Listen on every CID this machine has.
CID_ANY = 0xFFFFFFFF
#: The hypervisor itself.
CID_HYPERVISOR = 0
#: This machine, through the ``vsock_loopback`` transport.
CID_LOCAL = 1
#: The host, seen from a guest.
CID_HOST = 2
#: Let the kernel choose a free port.
PORT_ANY = 0xFFFFFFFF

#: The names accepted wherever a CID is given as text.
CID_NAMES: dict[str, int] = {
    "any": CID_ANY,
    "hypervisor": CID_HYPERVISOR,
    "local": CID_LOCAL,
    "host": CID_HOST,
}

#: The device whose ioctl reports this machine's CID.
VSOCK_DEVICE = "/dev/vsock"
# From <linux/vm_sockets.h>: _IO(7, 0xb9).
_IOCTL_VM_SOCKETS_GET_LOCAL_CID = 0x7B9

_MAX_U32 = 0xFFFFFFFF


@implementer(IAddress)
@dataclass(frozen=True)
class VSockAddress:
    """
    The address of one end of an AF_VSOCK stream.

    :param cid: the context ID, 0 to 2**32-1 (``CID_ANY``).
    :param port: the port, 0 to 2**32-1 (``PORT_ANY``).
    """

    cid: int
    port: int

    def __post_init__(self) -> None:
        check_cid(self.cid, allow_any=True)
        if not (isinstance(self.port, int) and 0 <= self.port <= _MAX_U32):
            raise ValueError(
                f"port must be an integer from 0 to {_MAX_U32}, got {self.port!r}"
            )

    def __str__(self) -> str:
        return f"vsock://{self.cid}:{self.port}"

    @classmethod
    def from_uri(cls, uri: str) -> VSockAddress:
        """
        Parse the form ``str()`` prints: ``vsock://<cid>:<port>``, the CID by
        number or by name (see :data:`CID_NAMES`).

        :raises ValueError: if ``uri`` is not of that form.
        """
        prefix = "vsock://"
        if not uri.startswith(prefix) or uri.count(":") != 2:
            raise ValueError(f"expected vsock://<cid>:<port>, got {uri!r}")
        cid_text, _, port_text = uri[len(prefix) :].partition(":")
        return cls(parse_cid(cid_text), parse_port(port_text, allow_any=True))


def check_cid(cid: object, *, allow_any: bool, name: str = "cid") -> int:
    """
    Check that ``cid`` is a CID and return it.

    :param allow_any: whether ``CID_ANY`` is acceptable (it is for listening,
        not for connecting).
    :raises ValueError: naming ``name`` and the accepted range.
    """
    top = _MAX_U32 if allow_any else _MAX_U32 - 1
    if isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid <= top:
        hint = "" if allow_any else " (any, 4294967295, is only for listening)"
        raise ValueError(
            f"{name} must be an integer from 0 to {top}{hint}, got {cid!r}"
        )
    return cid


def check_port(port: object, *, name: str = "port") -> int:
    """
    Check that ``port`` is a port a user may name and return it.

    Port 0 means "any free port" when listening; ``PORT_ANY`` itself is the
    kernel's wildcard and is not accepted from users.

    :raises ValueError: naming ``name`` and the accepted range.
    """
    top = _MAX_U32 - 1
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= top:
        raise ValueError(f"{name} must be an integer from 0 to {top}, got {port!r}")
    return port


def parse_cid(text: str, *, allow_any: bool = True, name: str = "cid") -> int:
    """
    Turn a CID given as text into a number.

    :param text: a decimal number or one of ``any``, ``hypervisor``,
        ``local``, ``host`` (in any case).
    :raises ValueError: naming ``name`` and the accepted forms.
    """
    named = CID_NAMES.get(text.strip().lower())
    if named is not None:
        return check_cid(named, allow_any=allow_any, name=name)
    if not text.isascii() or not text.isdigit():
        raise ValueError(
            f"{name} must be a number or one of {', '.join(CID_NAMES)}, got {text!r}"
        )
    return check_cid(int(text), allow_any=allow_any, name=name)


def parse_port(text: str, *, allow_any: bool = False, name: str = "port") -> int:
    """
    Turn a port given as text into a number.

    :param allow_any: whether 4294967295 (``PORT_ANY``) is accepted.
    :raises ValueError: naming ``name`` and the accepted range.
    """
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{name} must be a decimal number, got {text!r}")
    port = int(text)
    if allow_any and port == PORT_ANY:
        return port
    return check_port(port, name=name)


def local_cid(device: str = VSOCK_DEVICE) -> int:
    """
    Return this machine's own CID, as the vsock driver reports it.

    :raises OSError: with a message naming what is missing when ``device``
        does not exist or cannot be opened.
    """
    import fcntl  # POSIX only; imported here so this module loads on Windows

    try:
        with open(device, "rb") as vsock:
            raw = fcntl.ioctl(vsock, _IOCTL_VM_SOCKETS_GET_LOCAL_CID, b"\0" * 4)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            e.errno,
            f"{device} does not exist: load the vsock module (modprobe vsock) "
            "to learn this machine's CID",
            device,
        ) from None
    cid: int = struct.unpack("I", raw)[0]
    return cid
