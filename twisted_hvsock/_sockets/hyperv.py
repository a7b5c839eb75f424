"""
Windows' AF_HYPERV sockets as Python 3.12 and later expose them: the family
``socket.AF_HYPERV``, the protocol ``HV_PROTOCOL_RAW``, and addresses that are
``(vm_id, service_id)`` tuples of GUID strings; their options, and Winsock's
errors explained.

Every call goes through the module :func:`socket_api` returns, so that the
test suite can put a stand-in for Windows' socket layer in its place.
"""

from __future__ import annotations

import contextlib
import errno
import math
import socket
import struct
import sys
from typing import Any

from twisted.internet import error

from ..errors import HyperVUnavailableError
from ..hyperv_ids import HyperVAddress

__all__ = [
    "HVSOCKET_CONNECTED_SUSPEND",
    "HVSOCKET_CONNECT_TIMEOUT",
    "HVSOCKET_CONNECT_TIMEOUT_MAX",
    "HV_PROTOCOL_RAW",
    "explain_connect_error",
    "explain_listen_error",
    "hyperv_backend",
    "new_hyperv_socket",
    "prepare_connect",
    "set_linger_zero",
    "sockaddr_for",
    "socket_api",
    "unavailable_error",
]

# From Windows' hvsocket.h; Python 3.12 exports the same names.
HV_PROTOCOL_RAW = 1
HVSOCKET_CONNECT_TIMEOUT = 0x01
HVSOCKET_CONNECT_TIMEOUT_MAX = 300_000
HVSOCKET_CONNECTED_SUSPEND = 0x04

# Winsock's error numbers, as Windows reports them in OSError.errno (CPython
# turns WSAEACCES into EACCES there).
WSAEACCES = 10013
WSAEADDRINUSE = 10048
WSAENETUNREACH = 10051
WSAETIMEDOUT = 10060
WSAECONNREFUSED = 10061
WSAEHOSTUNREACH = 10065

# Replaced by the tests' stand-in for Windows' socket layer.
_socket_module: Any = socket


def socket_api() -> Any:
    """The module whose ``socket`` makes AF_HYPERV sockets."""
    return _socket_module


def hyperv_backend() -> str | None:
    """
    How this machine reaches Hyper-V sockets: ``"af_hyperv"`` (Windows,
    Python 3.12+), ``"af_vsock"`` (Linux, where a guest on Hyper-V sees them
    as AF_VSOCK), or ``None`` (neither).
    """
    if hasattr(socket_api(), "AF_HYPERV"):
        return "af_hyperv"
    if sys.platform.startswith("linux"):
        return "af_vsock"
    return None


def unavailable_error() -> HyperVUnavailableError:
    """Why this machine cannot make Hyper-V sockets, for the user."""
    if sys.platform == "win32":
        version = ".".join(map(str, sys.version_info[:3]))
        return HyperVUnavailableError(
            "Hyper-V sockets need Python 3.12 or later on Windows "
            f"(socket.AF_HYPERV); this is Python {version}",
        )
    return HyperVUnavailableError(
        f"Hyper-V sockets need Windows (AF_HYPERV, Python 3.12+) or a Linux "
        f"guest (AF_VSOCK); this is {sys.platform}",
    )


def new_hyperv_socket() -> Any:
    """
    A new blocking AF_HYPERV stream socket.

    :raises HyperVUnavailableError: if this Python has no AF_HYPERV.
    """
    api = socket_api()
    if not hasattr(api, "AF_HYPERV"):
        raise unavailable_error()
    return api.socket(api.AF_HYPERV, api.SOCK_STREAM, api.HV_PROTOCOL_RAW)


def sockaddr_for(address: HyperVAddress) -> tuple[str, str]:
    """The ``(vm_id, service_id)`` tuple Python's AF_HYPERV calls take."""
    return (str(address.vm_id), str(address.service_id))


def prepare_connect(skt: Any, timeout: float | None, suspend: bool) -> None:
    """
    Hand Windows the connect ``timeout`` (if it takes the option), and keep
    the connection open while the VM is paused if ``suspend``.
    """
    api = socket_api()
    # The endpoint's own timer enforces the timeout whatever happens here;
    # telling Windows too ends the blocked connect when it fires.
    option = getattr(api, "HVSOCKET_CONNECT_TIMEOUT", None)
    if timeout is not None and option is not None:
        limit = getattr(api, "HVSOCKET_CONNECT_TIMEOUT_MAX", 300_000)
        milliseconds = min(math.ceil(timeout * 1000), limit)
        # A Windows that refuses the option still has the endpoint's timer.
        with contextlib.suppress(OSError):
            skt.setsockopt(api.HV_PROTOCOL_RAW, option, milliseconds)
    if suspend:
        skt.setsockopt(api.HV_PROTOCOL_RAW, api.HVSOCKET_CONNECTED_SUSPEND, 1)


def set_linger_zero(skt: Any) -> None:
    """Make ``close`` drop unsent data at once (``SO_LINGER`` zero)."""
    api = socket_api()
    # Windows' struct linger is two unsigned shorts.
    skt.setsockopt(api.SOL_SOCKET, api.SO_LINGER, struct.pack("<HH", 1, 0))


def _where(sockaddr: tuple[str, str]) -> str:
    return f"hvsock://{sockaddr[0]}/{sockaddr[1]}"


def explain_connect_error(
    err: BaseException, sockaddr: tuple[str, str]
) -> BaseException:
    """Map Winsock's connect errors onto the Twisted errors users catch for TCP."""
    if not isinstance(err, error.ConnectError) or err.osError is None:
        return err
    where = _where(sockaddr)
    code = err.osError
    if code == WSAECONNREFUSED:
        return error.ConnectionRefusedError(
            code, f"nothing listens on {where} (is the service running?)"
        )
    if code == WSAETIMEDOUT:
        return error.TimeoutError(string=f"timed out connecting to {where}")
    if code in (WSAENETUNREACH, WSAEHOSTUNREACH):
        return error.NoRouteError(
            code, f"no VM {sockaddr[0]} is running, or it has no Hyper-V sockets"
        )
    if code in (WSAEACCES, errno.EACCES):
        return error.ConnectError(
            code,
            f"access denied connecting to {where}: register the service on "
            "the host first (hvsock register, as Administrator)",
        )
    return err


def explain_listen_error(err: OSError, sockaddr: tuple[str, str]) -> object:
    """The reason ``CannotListenError`` gives for a failed bind or listen."""
    where = _where(sockaddr)
    if err.errno == WSAEADDRINUSE:
        return f"another socket already listens on {where}"
    if err.errno in (WSAEACCES, errno.EACCES):
        return (
            f"access denied listening on {where}: register the service on "
            "the host first (hvsock register, as Administrator)"
        )
    return err
