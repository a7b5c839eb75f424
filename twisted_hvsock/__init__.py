"""
twisted-hvsock: Twisted endpoints for hypervisor sockets.

Every public endpoint class, both address types, the errors and the
interfaces are importable from here. Importing this package never touches
``socket.AF_VSOCK``, so it works on every operating system; the endpoints
say what is missing when used where the socket family does not exist.

Twisted's plugin scan imports this package and every backend module; none
of them loads an I/O engine before an endpoint is used (``_engines``).
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
from .errors import (
    HyperVAdminRequiredError,
    HyperVUnavailableError,
    MessageTooLongError,
    MissingDependencyError,
    VMLookupError,
    VSockUnavailableError,
    WaitTimeoutError,
)
from .hybrid_vsock import HybridVSockClientEndpoint, HybridVSockServerEndpoint
from .hyperkit import HyperkitClientEndpoint, HyperkitServerEndpoint
from .hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from .hyperv_ids import HyperVAddress
from .interfaces import IMessageTransport
from .threaded_unix import ThreadedUNIXClientEndpoint, ThreadedUNIXServerEndpoint
from .vsock import IOEngine, VSockClientEndpoint, VSockServerEndpoint

__version__ = "0.1.0.dev0"

__all__ = [
    "CID_ANY",
    "CID_HOST",
    "CID_HYPERVISOR",
    "CID_LOCAL",
    "PORT_ANY",
    "HybridVSockClientEndpoint",
    "HybridVSockServerEndpoint",
    "HyperVAddress",
    "HyperVAdminRequiredError",
    "HyperVClientEndpoint",
    "HyperVServerEndpoint",
    "HyperVUnavailableError",
    "HyperkitClientEndpoint",
    "HyperkitServerEndpoint",
    "IMessageTransport",
    "IOEngine",
    "MessageTooLongError",
    "MissingDependencyError",
    "ThreadedUNIXClientEndpoint",
    "ThreadedUNIXServerEndpoint",
    "VMLookupError",
    "VSockAddress",
    "VSockClientEndpoint",
    "VSockServerEndpoint",
    "VSockUnavailableError",
    "WaitTimeoutError",
    "__version__",
    "local_cid",
]
