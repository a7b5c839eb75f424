"""
The vsock endpoints' old home: they live in :mod:`twisted_hvsock.vsock`
now, and this module re-exports them for one release
(``docs/changes/28.removal.rst``).
"""

from .vsock import IOEngine, VSockClientEndpoint, VSockServerEndpoint

__all__ = ["IOEngine", "VSockClientEndpoint", "VSockServerEndpoint"]
