"""
The checks every endpoint constructor makes on its arguments: each returns
the value it was given, or raises ``ValueError`` naming the argument and what
it accepts.
"""

from __future__ import annotations

import socket
from typing import Literal, get_args

from twisted.internet.interfaces import IReactorFDSet

__all__ = [
    "IO_ENGINES",
    "SOCKET_TYPES",
    "SOMAXCONN_FILE",
    "IOEngine",
    "SocketType",
    "check_backlog",
    "check_io",
    "check_mode",
    "check_path",
    "check_seconds",
    "check_socket_type",
    "check_timeout",
    "default_backlog",
]

#: The longest accept queue a listener may ask for: ``listen()`` takes a C
#: int, and the kernel caps it at ``net.core.somaxconn`` anyway.
MAX_BACKLOG = 2**31 - 1
#: The longest timeout, in seconds (about 68 years): the kernel's connect
#: timeout is a ``struct timeval``, and this keeps every platform's in range.
MAX_TIMEOUT = float(2**31 - 1)

#: The I/O engines an endpoint can use: the reactor polls the socket, or
#: blocking calls run on threads of their own.
IOEngine = Literal["reactor", "threads"]
#: The accepted values of ``io``, in the order the docs list them.
IO_ENGINES: tuple[IOEngine, ...] = get_args(IOEngine)

#: What a connection carries: a byte stream (``SOCK_STREAM``), or messages
#: that arrive whole and one at a time (``SOCK_SEQPACKET``).
SocketType = Literal["stream", "seqpacket"]
#: The accepted values of ``type``, the default first.
SOCKET_TYPES: tuple[SocketType, ...] = get_args(SocketType)


#: Where Linux says how long an accept queue may be (``net.core.somaxconn``).
SOMAXCONN_FILE = "/proc/sys/net/core/somaxconn"


def default_backlog() -> int:
    """
    The backlog a listener gets unless told: the longest accept queue the
    kernel allows, ``net.core.somaxconn`` (4096 on Linux since 5.4), or,
    where that cannot be read (not Linux), Python's ``socket.SOMAXCONN``.

    Twisted's 50 is too short for vsock: a full AF_VSOCK accept queue resets
    a new connection at once, where TCP would retry its SYN, so a burst of
    connects fails although the service is up (docs/endpoint-strings.rst).
    """
    try:
        with open(SOMAXCONN_FILE, encoding="ascii") as limit:
            value = int(limit.read())
    except (OSError, ValueError):
        value = socket.SOMAXCONN
    return min(max(value, 1), MAX_BACKLOG)


def check_backlog(backlog: object) -> int:
    """
    Check that ``backlog`` is an integer from 1 to :data:`MAX_BACKLOG` and
    return it, before any socket is made; ``None`` stands for
    :func:`default_backlog`.

    :raises ValueError: naming ``backlog``.
    """
    if backlog is None:
        return default_backlog()
    if (
        isinstance(backlog, bool)
        or not isinstance(backlog, int)
        or not 1 <= backlog <= MAX_BACKLOG
    ):
        raise ValueError(
            f"backlog must be an integer from 1 to {MAX_BACKLOG}, got {backlog!r}"
        )
    return backlog


def check_seconds(seconds: object, name: str) -> float:
    """
    Check that ``seconds`` is a positive number of seconds, at most
    :data:`MAX_TIMEOUT`, and return it as a float.

    :raises ValueError: naming ``name``.
    """
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 < seconds <= MAX_TIMEOUT
    ):
        raise ValueError(
            f"{name} must be a positive, finite number of seconds, at most "
            f"{MAX_TIMEOUT:.0f}, got {seconds!r}"
        )
    return float(seconds)


def check_timeout(timeout: object) -> float:
    """A connect ``timeout``, checked as :func:`check_seconds` does."""
    return check_seconds(timeout, "timeout")


def check_io(io: object, reactor: object, *, pollable: bool = True) -> IOEngine:
    """
    The I/O engine to use: ``io`` if given, else the reactor's polling
    wherever the reactor can poll sockets (every POSIX reactor), else threads.

    :param pollable: whether the socket family can be polled at all; where it
        cannot (AF_HYPERV), only ``"threads"`` is accepted.
    :raises ValueError: naming ``io`` and the accepted values.
    """
    if io is None:
        if pollable and IReactorFDSet.providedBy(reactor):
            return "reactor"
        return "threads"
    if io == "reactor" and not pollable:
        raise ValueError(
            "io=reactor is not possible for AF_HYPERV sockets, which Windows "
            "cannot poll; use io=threads (the default)"
        )
    for engine in IO_ENGINES:
        if io == engine:
            return engine
    raise ValueError(f"io must be one of {', '.join(IO_ENGINES)}, got {io!r}")


def check_socket_type(value: object, *, family: str = "") -> SocketType:
    """
    Check that ``value`` is one of :data:`SOCKET_TYPES` and return it.

    :param family: for sockets that carry only streams, their name, which
        the refusal of ``"seqpacket"`` gives.
    :raises ValueError: naming ``type`` and the accepted values.
    """
    if family and value == "seqpacket":
        raise ValueError(
            f"type=seqpacket is not possible for {family} sockets, which carry "
            "only streams; messages need vsock: endpoints (AF_VSOCK over "
            "virtio or loopback, Linux 5.14 or later)"
        )
    for socket_type in SOCKET_TYPES:
        if value == socket_type:
            return socket_type
    raise ValueError(f"type must be one of {', '.join(SOCKET_TYPES)}, got {value!r}")


def check_mode(mode: object) -> int:
    """
    Check that ``mode`` is a file's permission bits (0 to 0o777) and return it.

    :raises ValueError: naming ``mode`` and the accepted range.
    """
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ValueError(
            f"mode must be permission bits from 0 to 0o777 (e.g. 0o600), got {mode!r}"
        )
    return mode


def check_path(path: object) -> str | bytes:
    """
    Check that ``path`` is a non-empty ``str`` or ``bytes`` and return it.

    :raises ValueError: naming ``path``.
    """
    if not isinstance(path, (str, bytes)) or not path:
        raise ValueError(f"path must be a non-empty str or bytes, got {path!r}")
    return path
