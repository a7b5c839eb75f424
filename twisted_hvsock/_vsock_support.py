"""
Finding out whether this machine can make AF_VSOCK sockets, and saying
clearly what is missing when it cannot.
"""

from __future__ import annotations

import errno
import socket
import sys

from .errors import VSockUnavailableError


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


def new_vsock_socket() -> socket.socket:
    """
    Make a non-blocking AF_VSOCK stream socket.

    :raises VSockUnavailableError: if the kernel refuses the address family.
    """
    family = vsock_family()
    try:
        skt = socket.socket(family, socket.SOCK_STREAM)
    except OSError as e:
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
