"""
The Hyper-V endpoints' old home: they live in :mod:`twisted_hvsock.hyperv`
now, and this module re-exports them for one release
(``docs/changes/28.removal.rst``).
"""

from .hyperv import HyperVClientEndpoint, HyperVServerEndpoint

__all__ = ["HyperVClientEndpoint", "HyperVServerEndpoint"]
