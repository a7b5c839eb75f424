"""
twisted-hvsock: Twisted endpoints for hypervisor sockets.

Importing this package never touches ``socket.AF_VSOCK``, so it works on
every operating system; the endpoints say what is missing when used where
the socket family does not exist.
"""

from __future__ import annotations

from .address import (
    CID_ANY,
    CID_HOST,
    CID_HYPERVISOR,
    CID_LOCAL,
    PORT_ANY,
    VSockAddress,
    local_cid,
)
from .endpoints import VSockClientEndpoint, VSockServerEndpoint
from .errors import VSockUnavailableError
from .threaded_unix import ThreadedUNIXClientEndpoint, ThreadedUNIXServerEndpoint

__version__ = "0.1.0.dev0"

__all__ = [
    "CID_ANY",
    "CID_HOST",
    "CID_HYPERVISOR",
    "CID_LOCAL",
    "PORT_ANY",
    "ThreadedUNIXClientEndpoint",
    "ThreadedUNIXServerEndpoint",
    "VSockAddress",
    "VSockClientEndpoint",
    "VSockServerEndpoint",
    "VSockUnavailableError",
    "__version__",
    "local_cid",
]
