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
    "VSOCK_URI_FORM",
    "VSockAddress",
    "check_cid",
    "check_port",
    "local_cid",
    "parse_cid",
    "parse_port",
    "split_vsock_authority",
    "split_vsock_uri",
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
        # The any-CID wildcard reads as users write it: vsock://any:5000.
        cid = "any" if self.cid == CID_ANY else str(self.cid)
        return f"vsock://{cid}:{self.port}"

    @classmethod
    def from_uri(cls, uri: str) -> VSockAddress:
        """
        Parse a vsock URI that names both ends of an address: the form
        ``str()`` prints, ``vsock://<cid>:<port>``, in the grammar of
        :func:`split_vsock_uri` (the one :mod:`twisted_hvsock.uri` uses):
        the CID by number or by name (see :data:`CID_NAMES`), a trailing
        ``/`` allowed.

        ``vsock://:<port>`` names no CID: as an endpoint URI it means "listen
        on every CID", which is no address, so it is refused here. The port
        may be 4294967295 (:data:`PORT_ANY`), which an endpoint URI cannot
        name but an address can hold.

        :raises ValueError: if ``uri`` is not of that form.
        """
        cid, port = split_vsock_uri(uri, allow_any_port=True)
        if cid is None:
            raise ValueError(
                f"{uri!r} names no CID; an address needs one: vsock://<cid>:<port>"
            )
        return cls(cid, port)


def _range_error(name: str, top: int, shown: str, names: str = "") -> ValueError:
    choices = f" or one of {names}" if names else ""
    return ValueError(
        f"{name} must be a whole number from 0 to {top}{choices}, got {shown}"
    )


def _shown(value: object) -> str:
    # Long texts are summarised: an error message is read, not scrolled.
    if isinstance(value, str) and len(value) > 20:
        return f"a {len(value)}-character text"
    return repr(value)


def check_cid(cid: object, *, allow_any: bool, name: str = "cid") -> int:
    """
    Check that ``cid`` is a CID and return it.

    :param allow_any: whether ``CID_ANY`` is acceptable (it is for listening,
        not for connecting).
    :raises ValueError: naming ``name`` and the accepted range.
    """
    top = _MAX_U32 if allow_any else _MAX_U32 - 1
    if isinstance(cid, bool) or not isinstance(cid, int) or not 0 <= cid <= top:
        error = _range_error(name, top, _shown(cid))
        if not allow_any and cid == _MAX_U32:
            error = ValueError(f"{error} (any, {_MAX_U32}, is only for listening)")
        raise error
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
        raise _range_error(name, top, _shown(port))
    return port


def _whole_number(text: str, name: str, top: int, names: str = "") -> int:
    """
    ``text`` as a decimal number from 0 to ``top``, or a ``ValueError`` that
    names ``name`` and the range (and ``names``, the words also accepted).
    Long texts are refused before Python's own limit on huge conversions
    could answer for the option.
    """
    if (
        text.isascii()
        and text.isdigit()
        and len(text.lstrip("0")) <= len(str(top))
        and int(text) <= top
    ):
        return int(text)
    raise _range_error(name, top, _shown(text), names)


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
    top = _MAX_U32 if allow_any else _MAX_U32 - 1
    return _whole_number(text, name, top, ", ".join(CID_NAMES))


def parse_port(text: str, *, allow_any: bool = False, name: str = "port") -> int:
    """
    Turn a port given as text into a number.

    :param allow_any: whether 4294967295 (``PORT_ANY``) is accepted.
    :raises ValueError: naming ``name`` and the accepted range.
    """
    return _whole_number(text, name, _MAX_U32 if allow_any else _MAX_U32 - 1)


#: The form of a vsock URI, quoted in its errors.
VSOCK_URI_FORM = "vsock://[<cid>]:<port>[/]"


def split_vsock_authority(
    text: str, *, allow_any_port: bool = False, connecting: bool = False
) -> tuple[int | None, int]:
    """
    Split ``[<cid>]:<port>``, the authority of the vsock-based URIs, into its
    CID (``None`` when left out) and its port.

    :param allow_any_port: whether 4294967295 (``PORT_ANY``) is accepted.
    :param connecting: whether the authority names a peer to connect to,
        which needs a CID other than ``any``.
    :raises ValueError: naming what is wrong.
    """
    cid_text, colon, port_text = text.rpartition(":")
    if not colon:
        raise ValueError("the port is missing")
    if connecting:
        cid: int | None = parse_cid(cid_text, allow_any=False)
    else:
        cid = parse_cid(cid_text) if cid_text else None
    return cid, parse_port(port_text, allow_any=allow_any_port)


def split_vsock_uri(
    uri: str, *, allow_any_port: bool = False
) -> tuple[int | None, int]:
    """
    Split a URI of the form :data:`VSOCK_URI_FORM` into its CID (``None``
    when left out) and its port. :mod:`twisted_hvsock.uri` and
    :meth:`VSockAddress.from_uri` both parse vsock URIs with it.

    :param allow_any_port: whether 4294967295 (``PORT_ANY``) is accepted.
    :raises ValueError: quoting the form and ``uri``, and naming what is wrong.
    """
    scheme = "vsock://"
    if not uri.startswith(scheme):
        raise ValueError(f"expected {VSOCK_URI_FORM}, got {uri!r}")
    authority = uri[len(scheme) :].removesuffix("/")
    try:
        if "/" in authority:
            raise ValueError("a vsock URI has no path")
        return split_vsock_authority(authority, allow_any_port=allow_any_port)
    except ValueError as e:
        raise ValueError(f"expected {VSOCK_URI_FORM}, got {uri!r}: {e}") from None


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
