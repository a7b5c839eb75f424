"""
Linux AF_VSOCK: making the sockets, the options CPython cannot set on them,
and the kernel's errors explained.

CPython's ``setsockopt`` and ``getsockopt`` take only 8-byte integers for
AF_VSOCK sockets, so the options with other shapes (``struct timeval``,
``struct linger``) go through libc.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
from dataclasses import dataclass

from twisted.internet import error

from .._checks import SocketType
from ..address import CID_ANY, CID_HOST, CID_LOCAL, local_cid
from ..errors import VSockUnavailableError
from . import LINGER_ZERO, TIMEVAL, libc, timeval
from .vsock_client import FIRST_UNPRIVILEGED_PORT, ToHostSocket

__all__ = [
    "BUFFER_FORMS",
    "FIRST_UNPRIVILEGED_PORT",
    "SEQPACKET_KERNEL",
    "MessageCutShort",
    "buffer_size",
    "check_buffer",
    "explain_connect_error",
    "explain_listen_error",
    "kernel_connect_timeout",
    "new_vsock_socket",
    "parse_buffer",
    "set_buffer_size",
    "set_kernel_connect_timeout",
    "set_linger_zero",
    "set_receive_timeout",
    "vsock_family",
]

# From <linux/vm_sockets.h>: a connection's buffer, an unsigned long long
# (which CPython's getsockopt reads), and the connect timeout, a struct
# timeval (which it cannot).
_SO_VM_SOCKETS_BUFFER_SIZE = 0
_SO_VM_SOCKETS_BUFFER_MAX_SIZE = 2
_SO_VM_SOCKETS_CONNECT_TIMEOUT = 6
#: What ``type=seqpacket`` needs, as the errors say it.
SEQPACKET_KERNEL = (
    "type=seqpacket needs Linux 5.14 or later and a vsock transport that "
    "carries SOCK_SEQPACKET (virtio-vsock, with QEMU 6.1 or later on the "
    "host, or vsock_loopback)"
)


@dataclass(frozen=True)
class VSockListening:
    """
    Where a vsock listener accepts, the same for both engines: the address
    ``(cid, port)`` it binds (port 0: any free port) with its ``backlog``;
    or, when ``adopted`` is given, that listening socket, handed over by a
    supervisor (``option`` says how the user named it: ``fd=3``). ``buffer``
    is the connections' buffer size in bytes (``None``: the kernel's), set
    on a socket the listener makes (an adopted one has it set already).
    """

    cid: int
    port: int
    backlog: int
    socket_type: SocketType = "stream"
    adopted: socket.socket | None = None
    option: str = ""
    buffer: int | None = None


def vsock_family() -> int:
    """
    Return ``socket.AF_VSOCK``.

    :raises VSockUnavailableError: if this Python has no AF_VSOCK (it exists
        only on Linux builds).
    """
    family: int | None = getattr(socket, "AF_VSOCK", None)
    if family is None:
        raise VSockUnavailableError(
            errno.EAFNOSUPPORT,
            f"this Python on {sys.platform} has no socket.AF_VSOCK: vsock "
            "endpoints need Linux (use hvsock: endpoints on Windows, hyperkit: "
            "on macOS)",
        )
    return family


def _kernel_type(socket_type: SocketType) -> int:
    return socket.SOCK_SEQPACKET if socket_type == "seqpacket" else socket.SOCK_STREAM


def new_vsock_socket(
    socket_type: SocketType = "stream", to_host: bool = False
) -> socket.socket:
    """
    Make a non-blocking AF_VSOCK socket.

    :param socket_type: ``"stream"`` (``SOCK_STREAM``) or ``"seqpacket"``
        (``SOCK_SEQPACKET``).
    :param to_host: make a client socket whose connects set
        ``VMADDR_FLAG_TO_HOST`` (a :class:`~.vsock_client.ToHostSocket`).
    :raises VSockUnavailableError: if the kernel refuses the address family,
        or, for ``"seqpacket"``, the socket type (before Linux 5.14).
    """
    family = vsock_family()
    try:
        skt = (ToHostSocket if to_host else socket.socket)(
            family, _kernel_type(socket_type)
        )
    except OSError as e:
        if e.errno == errno.ESOCKTNOSUPPORT and socket_type == "seqpacket":
            raise VSockUnavailableError(
                e.errno,
                f"this kernel has no AF_VSOCK SOCK_SEQPACKET: {SEQPACKET_KERNEL}",
            ) from e
        if e.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            raise VSockUnavailableError(
                e.errno,
                "the kernel has no AF_VSOCK support: load the vsock module and a "
                "transport (modprobe vmw_vsock_virtio_transport in a guest, "
                "vhost_vsock on a host, vsock_loopback for CID 1)",
            ) from e
        raise
    skt.setblocking(False)
    return skt


def set_kernel_connect_timeout(skt: socket.socket, seconds: float) -> None:
    """
    Let the kernel wait ``seconds`` for a connect: its own default gives up
    after two seconds, which would cut a longer endpoint timeout short.

    An older kernel that refuses the option keeps its default; the endpoint's
    own timeout still holds then.
    """
    with contextlib.suppress(OSError):
        libc.setsockopt(
            skt, skt.family, _SO_VM_SOCKETS_CONNECT_TIMEOUT, timeval(seconds)
        )


def kernel_connect_timeout(skt: socket.socket) -> float:
    """The connect timeout the kernel holds for ``skt``, in seconds."""
    raw = libc.getsockopt(skt, skt.family, _SO_VM_SOCKETS_CONNECT_TIMEOUT, TIMEVAL.size)
    whole, micro = TIMEVAL.unpack(raw)
    return float(whole + micro / 1_000_000)


def buffer_size(skt: socket.socket) -> int:
    """
    The bytes an AF_VSOCK connection may hold unread
    (``SO_VM_SOCKETS_BUFFER_SIZE``, 256 KiB unless set): for ``SOCK_SEQPACKET``
    also the longest message it sends or receives, as the kernel takes no
    message longer than either side's buffer.
    """
    size: int = skt.getsockopt(skt.family, _SO_VM_SOCKETS_BUFFER_SIZE)
    return size


#: The smallest and largest ``buffer``: the kernel raises a smaller size to
#: its minimum (128 bytes), and virtio-vsock caps a size at 32 bits.
_BUFFER_RANGE = (128, 2**32 - 1)
#: What ``buffer`` accepts, as the errors say it.
BUFFER_FORMS = (
    f"a number of bytes from {_BUFFER_RANGE[0]} to {_BUFFER_RANGE[1]} "
    "(the kernel's default is 262144)"
)


def check_buffer(buffer: object, name: str = "buffer") -> int | None:
    """
    Check a connection's vsock buffer size in bytes (``None``: the
    kernel's default) and return it.

    :raises ValueError: naming ``name`` and :data:`BUFFER_FORMS`.
    """
    if buffer is None:
        return None
    low, high = _BUFFER_RANGE
    if (
        isinstance(buffer, bool)
        or not isinstance(buffer, int)
        or not low <= buffer <= high
    ):
        raise ValueError(f"{name} must be {BUFFER_FORMS}, got {buffer!r}")
    return buffer


def parse_buffer(text: str, name: str) -> int | None:
    """The ``buffer`` option's text as a size, checked by :func:`check_buffer`."""
    try:
        value = int(text)
    except ValueError:
        shown = repr(text) if len(text) <= 20 else f"a {len(text)}-character text"
        raise ValueError(f"{name} must be {BUFFER_FORMS}, got {shown}") from None
    return check_buffer(value, name)


def set_buffer_size(skt: socket.socket, size: int | None) -> None:
    """
    Give the connections of ``skt`` a buffer of ``size`` bytes
    (``SO_VM_SOCKETS_BUFFER_SIZE``), raising the socket's own maximum
    (``SO_VM_SOCKETS_BUFFER_MAX_SIZE``, 256 KiB unless set) first, which
    the kernel would otherwise cap it at; ``None`` leaves the default. Set
    before ``connect`` or ``listen``: accepted sockets inherit it.
    """
    if size is None:
        return
    skt.setsockopt(skt.family, _SO_VM_SOCKETS_BUFFER_MAX_SIZE, size)
    skt.setsockopt(skt.family, _SO_VM_SOCKETS_BUFFER_SIZE, size)


class MessageCutShort(error.ConnectionLost):
    """
    A ``SOCK_SEQPACKET`` message arrived longer than the read that took it,
    which the kernel cut short: the connection is closed rather than hand
    on part of a message. (A class of its own: the reactor replaces a plain
    ``ConnectionLost`` by one without the message.)

    :param limit: what the read took, in bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"a message longer than this connection's {limit}-byte receive "
            "size arrived cut short (was its vsock buffer raised after "
            "connecting?); closed rather than deliver part of it"
        )


def set_linger_zero(skt: socket.socket) -> None:
    """
    Make ``close`` reset the connection at once (``SO_LINGER`` zero), dropping
    nothing already sent to the kernel.
    """
    libc.setsockopt(skt, socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)


def set_receive_timeout(skt: socket.socket, seconds: float) -> None:
    """Make blocked receives (and ``accept``) return after ``seconds`` (0: never)."""
    libc.setsockopt(skt, socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(seconds))


def explain_listen_error(reason: object, port: int) -> object:
    """
    Replace the kernel's terse bind and listen errors with ones that say
    what to do.

    :param port: the port asked for; 0 when the kernel was to choose.
    """
    if not isinstance(reason, OSError):
        return reason
    if reason.errno == errno.EACCES and port < FIRST_UNPRIVILEGED_PORT:
        return PermissionError(
            reason.errno,
            f"vsock ports below {FIRST_UNPRIVILEGED_PORT} need root or "
            "CAP_NET_BIND_SERVICE; choose a higher port or grant the capability",
        )
    if reason.errno == errno.EADDRINUSE:
        return OSError(reason.errno, f"vsock port {port} is already in use")
    if reason.errno == errno.EADDRNOTAVAIL:
        return OSError(
            reason.errno,
            "that CID is not this machine's: listen on CID any, or on the CID "
            "that `hvsock doctor` reports",
        )
    return reason


def explain_connect_error(
    err: BaseException,
    address: tuple[int, int],
    socket_type: SocketType = "stream",
    to_host: bool = False,
) -> BaseException:
    """
    Map AF_VSOCK's connect errors onto the Twisted errors users catch for TCP.

    :param to_host: whether the connect set ``VMADDR_FLAG_TO_HOST``, which
        changes the transport the kernel looks for.
    """
    if not isinstance(err, error.ConnectError) or err.osError is None:
        return err
    if isinstance(err, error.ConnectBindError):
        return err  # _sockets.vsock_client said what the bind needed
    cid, port = address
    where = f"vsock CID {cid} port {port}"
    if err.osError == errno.ECONNRESET:
        # AF_VSOCK answers a port nobody listens on with a reset, and a
        # listener of the other socket type too.
        refused = f"nothing listens on {where}"
        if socket_type == "seqpacket":
            refused += (
                " for type=seqpacket connections (a stream listener refuses them)"
            )
        return error.ConnectionRefusedError(err.osError, refused)
    if err.osError == errno.ESOCKTNOSUPPORT:
        return error.ConnectError(
            err.osError,
            f"the vsock transport to CID {cid} does not carry SOCK_SEQPACKET: "
            f"{SEQPACKET_KERNEL}",
        )
    if err.osError == errno.ETIMEDOUT:
        return error.TimeoutError(string=f"the kernel timed out connecting to {where}")
    if err.osError == errno.EINVAL and to_host:
        return error.ConnectError(
            err.osError,
            "this kernel refuses VMADDR_FLAG_TO_HOST (tohost=yes needs Linux "
            "5.11 or later)",
        )
    if err.osError == errno.ENODEV:
        return error.NoRouteError(
            err.osError,
            f"no vsock transport reaches CID {cid}: {_missing_transport(cid, to_host)}",
        )
    if err.osError in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return error.NoRouteError(
            err.osError,
            f"no vsock transport reaches CID {cid} ({os.strerror(err.osError)})",
        )
    return err


def _missing_transport(cid: int, to_host: bool) -> str:
    """
    Which transport an ``ENODEV`` connect lacked. Linux picks it before it
    looks at the flag: the loopback for CID 1 (and for CID 2 in a machine
    without a guest-to-host transport), then the guest-to-host transport for
    CIDs 0 and 2 and for any CID with ``VMADDR_FLAG_TO_HOST``, else the
    host-to-guest one.
    """
    if cid == CID_LOCAL:
        return "CID 1 needs the loopback transport (modprobe vsock_loopback)"
    if to_host and cid > CID_HOST:
        return (
            "tohost=yes sends the connection to the host, through a guest-to-host "
            "transport (virtio-vsock's vmw_vsock_virtio_transport, hv_sock, "
            "vmw_vsock_vmci_transport), and this machine has none"
        )
    if cid <= CID_HOST:
        return (
            "the hypervisor and the host are reached through a guest-to-host "
            "transport (virtio-vsock's vmw_vsock_virtio_transport, hv_sock, "
            "vmw_vsock_vmci_transport), and this machine has none (on a host, "
            "CID 2 is this machine, reached through vsock_loopback)"
        )
    return (
        "a guest is reached through vhost_vsock, and no VM with that CID runs "
        "on this host (or vhost_vsock is not loaded)"
    )


def adopt_listening_vsock(
    fd: int, option: str, socket_type: SocketType = "stream"
) -> socket.socket:
    """
    Take over ``fd``, an inherited descriptor that must be a listening
    AF_VSOCK socket of ``socket_type``, as a socket object that owns it.

    :param option: how the user named the descriptor (``"fd=3"``,
        ``"systemd=web"``), for the errors.
    :raises ValueError: naming ``option`` and what the descriptor is
        instead; the descriptor is then left as it was.
    """
    try:
        skt = socket.socket(fileno=fd)
    except OSError as e:
        if e.errno == errno.EBADF:
            raise ValueError(f"{option}: descriptor {fd} is not open") from None
        if e.errno == errno.ENOTSOCK:
            raise ValueError(
                f"{option}: descriptor {fd} is not a socket (a file or a pipe?)"
            ) from None
        raise ValueError(f"{option}: descriptor {fd}: {e.strerror}") from None
    try:
        expected = _kernel_type(socket_type)
        if skt.family != vsock_family() or skt.type != expected:
            raise ValueError(
                f"{option}: descriptor {fd} is a {_name(skt.family)} "
                f"{_name(skt.type)} socket, not an AF_VSOCK {_name(expected)} one"
                f"{_type_hint(skt)}"
            )
        listening = libc.getsockopt(skt, socket.SOL_SOCKET, socket.SO_ACCEPTCONN, 4)
        if not int.from_bytes(listening, sys.byteorder):
            raise ValueError(
                f"{option}: descriptor {fd} is an AF_VSOCK socket that is not "
                "listening (bind and listen it before passing it on)"
            )
    except BaseException:
        skt.detach()  # the descriptor stays the caller's, open
        raise
    # It had to be inheritable to reach this process; no child of ours
    # should hold the listener open too.
    skt.set_inheritable(False)
    return skt


def _type_hint(skt: socket.socket) -> str:
    """What to change when an AF_VSOCK socket is of the other type."""
    if skt.family != vsock_family():
        return ""
    if skt.type == socket.SOCK_SEQPACKET:
        return " (add type=seqpacket to take it)"
    if skt.type == socket.SOCK_STREAM:
        return " (leave out type=seqpacket to take it)"
    return ""


def _name(constant: int) -> str:
    """A socket family or type by its name, where Python knows it."""
    return getattr(constant, "name", str(constant))


def connected_address(skt: socket.socket) -> tuple[int, int]:
    """
    The ``(cid, port)`` a connected AF_VSOCK socket is bound to.

    A client socket is bound implicitly, to the any-CID wildcard, and over
    virtio-vsock ``getsockname()`` goes on reporting the wildcard once it is
    connected (seen in the nested test tier, on both sides of the device).
    The CID it stands for is the one the kernel picked the transport by: the
    loopback's own for a peer at CID 1, the host's for a peer that is a
    guest (the host side of its device), and otherwise, for a guest reaching
    its host or hypervisor, this guest's own CID.
    """
    cid, port = skt.getsockname()
    if cid != CID_ANY:
        return cid, port
    peer_cid = skt.getpeername()[0]
    if peer_cid == CID_LOCAL:
        return CID_LOCAL, port
    if peer_cid > CID_HOST:
        return CID_HOST, port
    try:
        return local_cid(), port
    except OSError:
        return cid, port
