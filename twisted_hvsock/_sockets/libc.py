"""
The socket calls CPython's ``socket`` module cannot make for AF_VSOCK, made
through the C library with ctypes: options whose values are not 8-byte
integers, and ``connect`` with a ``struct sockaddr_vm`` the project builds.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import socket

__all__ = ["connect", "getsockopt", "libc", "raise_errno", "setsockopt"]


@functools.cache
def libc() -> ctypes.CDLL:
    """
    This process's C library, loaded once: loading it costs more than the
    call (0.5 to 6 ms per connect in the emulated test guest).
    """
    return ctypes.CDLL(None, use_errno=True)


def raise_errno() -> None:
    """Raise the ``OSError`` the last failed C library call left in ``errno``."""
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code))


def setsockopt(skt: socket.socket, level: int, option: int, value: bytes) -> None:
    """``setsockopt`` with a byte-string value, which CPython refuses for AF_VSOCK."""
    # ctypes passes a bytes object as a pointer to its (unchanged) contents.
    if libc().setsockopt(skt.fileno(), level, option, value, len(value)) != 0:
        raise_errno()


def getsockopt(skt: socket.socket, level: int, option: int, size: int) -> bytes:
    """``getsockopt`` of a ``size``-byte value, which CPython refuses for AF_VSOCK."""
    buffer = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    if libc().getsockopt(skt.fileno(), level, option, buffer, ctypes.byref(length)):
        raise_errno()
    return buffer.raw


def connect(skt: socket.socket, sockaddr: bytes) -> int:
    """
    ``connect`` to ``sockaddr``, a C socket address as bytes, returning 0 or
    the error number as ``socket.connect_ex`` does.

    A blocking connect interrupted by a signal is made again, as CPython's
    is; AF_VSOCK puts an interrupted socket back to unconnected first.
    """
    while True:
        if libc().connect(skt.fileno(), sockaddr, len(sockaddr)) == 0:
            return 0
        code = ctypes.get_errno()
        if code != errno.EINTR:
            return code
