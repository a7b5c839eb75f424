"""
twisted-hvsock: Twisted endpoints for hypervisor sockets.

Every public endpoint class, both address types and the errors are
importable from here. Importing this package never touches
``socket.AF_VSOCK``, so it works on every operating system; the endpoints
say what is missing when used where the socket family does not exist.

The endpoint classes load on first use: Twisted's plugin scan imports this
package, and it should not pay for the I/O engines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    VSockUnavailableError,
)
from .hyperv_ids import HyperVAddress

if TYPE_CHECKING:
    from .endpoints import IOEngine, VSockClientEndpoint, VSockServerEndpoint
    from .hybrid_vsock import HybridVSockClientEndpoint, HybridVSockServerEndpoint
    from .hyperkit import HyperkitClientEndpoint, HyperkitServerEndpoint
    from .hyperv_endpoints import HyperVClientEndpoint, HyperVServerEndpoint
    from .threaded_unix import ThreadedUNIXClientEndpoint, ThreadedUNIXServerEndpoint

__version__ = "0.1.0.dev0"

#: Public name -> the module that defines it, for the names loaded on use.
_LAZY = {
    "IOEngine": "endpoints",
    "VSockServerEndpoint": "endpoints",
    "VSockClientEndpoint": "endpoints",
    "HyperVServerEndpoint": "hyperv_endpoints",
    "HyperVClientEndpoint": "hyperv_endpoints",
    "HyperkitServerEndpoint": "hyperkit",
    "HyperkitClientEndpoint": "hyperkit",
    "HybridVSockServerEndpoint": "hybrid_vsock",
    "HybridVSockClientEndpoint": "hybrid_vsock",
    "ThreadedUNIXServerEndpoint": "threaded_unix",
    "ThreadedUNIXClientEndpoint": "threaded_unix",
}

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
    "IOEngine",
    "ThreadedUNIXClientEndpoint",
    "ThreadedUNIXServerEndpoint",
    "VSockAddress",
    "VSockClientEndpoint",
    "VSockServerEndpoint",
    "VSockUnavailableError",
    "__version__",
    "local_cid",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
