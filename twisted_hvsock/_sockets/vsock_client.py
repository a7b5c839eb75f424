"""
What a vsock client may ask for beyond the ``(cid, port)`` it connects to:
the source port it connects from (``bind``), and ``VMADDR_FLAG_TO_HOST``
(``tohost``), which CPython cannot put in an address (its AF_VSOCK address
is ``(cid, port)`` only), so the project builds the ``struct sockaddr_vm``
and connects through libc.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any, Literal

from twisted.internet import error

from .._checks import SocketType
from ..address import CID_ANY, PORT_ANY
from . import libc

__all__ = [
    "BIND_FORMS",
    "FIRST_UNPRIVILEGED_PORT",
    "PRIVILEGED",
    "SOCKADDR_VM",
    "VMADDR_FLAG_TO_HOST",
    "SourcePort",
    "ToHostSocket",
    "VSockTarget",
    "bind_source",
    "check_bind",
    "parse_bind",
    "sockaddr_vm",
]

#: From <linux/vm_sockets.h> (Linux 5.11): send the connection to the host,
#: whatever the CID, for the host to pass on (a sibling VM, an enclave).
VMADDR_FLAG_TO_HOST = 0x01
#: ``struct sockaddr_vm``: ``sa_family_t svm_family``, ``unsigned short
#: svm_reserved1``, ``unsigned int svm_port``, ``unsigned int svm_cid``,
#: ``__u8 svm_flags``, ``unsigned char svm_zero[3]``; 16 bytes, no padding.
SOCKADDR_VM = struct.Struct("=HHIIB3x")
#: Ports below this need root or CAP_NET_BIND_SERVICE to bind, as for TCP;
#: ``bind=privileged`` tries the ones below it, the highest first.
FIRST_UNPRIVILEGED_PORT = 1024
#: ``bind``'s value for "a free reserved port".
PRIVILEGED: Literal["privileged"] = "privileged"
#: A client's source port: a port number, or :data:`PRIVILEGED`.
SourcePort = int | Literal["privileged"]


@dataclass(frozen=True)
class VSockTarget:
    """
    Where a vsock client connects, and how: the address, the socket type,
    the source port to bind first (if any) and whether to connect with
    ``VMADDR_FLAG_TO_HOST``, and the connection's buffer size in bytes
    (``None``: the kernel's default); the same for both engines.
    """

    cid: int
    port: int
    socket_type: SocketType = "stream"
    bind: SourcePort | None = None
    to_host: bool = False
    buffer: int | None = None


#: What ``bind`` accepts, as the errors say it.
BIND_FORMS = (
    f"a port from 1 to {PORT_ANY - 1}, or privileged (the highest free port "
    f"below {FIRST_UNPRIVILEGED_PORT}, which needs root)"
)
_CAPABILITY = (
    f"vsock ports below {FIRST_UNPRIVILEGED_PORT} need root or "
    "CAP_NET_BIND_SERVICE in this machine; run the client as root, grant it "
    "the capability, or leave bind out"
)


def sockaddr_vm(cid: int, port: int, flags: int = 0) -> bytes:
    """The ``struct sockaddr_vm`` for ``(cid, port)`` with ``flags``, as bytes."""
    return SOCKADDR_VM.pack(socket.AF_VSOCK, 0, port, cid, flags)


class ToHostSocket(socket.socket):
    """
    An AF_VSOCK socket whose ``connect`` and ``connect_ex`` set
    ``VMADDR_FLAG_TO_HOST``: everything else, Twisted's non-blocking connect
    included (``connect_ex`` until ``EISCONN``), is CPython's.
    """

    __slots__ = ()

    def connect(self, address: Any) -> None:
        code = self.connect_ex(address)
        if code:
            raise OSError(code, os.strerror(code))

    def connect_ex(self, address: Any) -> int:
        cid, port = address
        return libc.connect(self, sockaddr_vm(cid, port, VMADDR_FLAG_TO_HOST))


def check_bind(bind: object, name: str = "bind") -> SourcePort | None:
    """
    Check a client's source port and return it: ``None`` (any, the kernel
    chooses), a port from 1 to 4294967294, or :data:`PRIVILEGED`.

    :raises ValueError: naming ``name`` and :data:`BIND_FORMS`.
    """
    if bind is None or bind == PRIVILEGED:
        return PRIVILEGED if bind is not None else None
    if isinstance(bind, int) and not isinstance(bind, bool) and 0 < bind < PORT_ANY:
        return bind
    raise ValueError(f"{name} must be {BIND_FORMS}, got {bind!r}")


def parse_bind(text: str, name: str) -> SourcePort:
    """``bind``'s text: a port number or ``privileged`` (any case)."""
    word = text.strip()
    if word.lower() == PRIVILEGED:
        return PRIVILEGED
    if word.isdigit():
        checked = check_bind(int(word), name)
        if checked is not None:
            return checked
    raise ValueError(f"{name} must be {BIND_FORMS}, got {text!r}")


def bind_source(skt: socket.socket, bind: SourcePort) -> None:
    """
    Bind ``skt``, before it connects, to the source port ``bind`` names; for
    :data:`PRIVILEGED`, the highest reserved port no socket holds.

    :raises twisted.internet.error.ConnectBindError: that says why: no
        capability for a reserved port, the port in use, every reserved one
        in use.
    """
    ports = range(FIRST_UNPRIVILEGED_PORT - 1, 0, -1) if bind == PRIVILEGED else (bind,)
    for port in ports:
        try:
            skt.bind((CID_ANY, port))
        except OSError as e:
            if e.errno == errno.EACCES:
                raise error.ConnectBindError(
                    e.errno, f"bind={bind}: {_CAPABILITY}"
                ) from e
            if e.errno != errno.EADDRINUSE:
                raise error.ConnectBindError(
                    e.errno, f"bind={bind}: {e.strerror}"
                ) from e
            if bind != PRIVILEGED:
                raise error.ConnectBindError(
                    e.errno, f"bind={bind}: vsock port {port} is already in use"
                ) from e
            continue
        return
    raise error.ConnectBindError(
        errno.EADDRINUSE,
        "bind=privileged: every reserved vsock port (1 to "
        f"{FIRST_UNPRIVILEGED_PORT - 1}) is already in use",
    )
