"""
Windows' AF_HYPERV sockets as Python 3.12 and later expose them: the family
``socket.AF_HYPERV``, the protocol ``HV_PROTOCOL_RAW``, and addresses that are
``(vm_id, service_id)`` tuples of GUID strings.

Every call goes through the module :func:`socket_api` returns, so that the
test suite can put a stand-in for Windows' socket layer in its place.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from .errors import HyperVUnavailableError
from .hyperv_ids import HyperVAddress

__all__ = [
    "HVSOCKET_CONNECTED_SUSPEND",
    "HVSOCKET_CONNECT_TIMEOUT",
    "HVSOCKET_CONNECT_TIMEOUT_MAX",
    "HV_PROTOCOL_RAW",
    "hyperv_backend",
    "new_hyperv_socket",
    "sockaddr_for",
    "socket_api",
]

# From Windows' hvsocket.h; Python 3.12 exports the same names.
HV_PROTOCOL_RAW = 1
HVSOCKET_CONNECT_TIMEOUT = 0x01
HVSOCKET_CONNECT_TIMEOUT_MAX = 300_000
HVSOCKET_CONNECTED_SUSPEND = 0x04

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
