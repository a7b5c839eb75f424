"""
Exceptions raised by twisted-hvsock beyond Twisted's own.
"""

from __future__ import annotations

__all__ = [
    "HyperVAdminRequiredError",
    "HyperVUnavailableError",
    "MissingDependencyError",
    "VSockUnavailableError",
]


class VSockUnavailableError(OSError):
    """
    This machine cannot make AF_VSOCK sockets; the message says what is
    missing and how to get it.
    """


class HyperVUnavailableError(OSError):
    """
    This machine cannot make Hyper-V sockets (AF_HYPERV, or AF_VSOCK inside
    a Linux guest); the message says what is needed.
    """


class HyperVAdminRequiredError(PermissionError):
    """
    The operation needs Administrator rights (or membership of the Hyper-V
    Administrators group) on the Windows host.
    """


class MissingDependencyError(ImportError):
    """
    A feature needs an optional dependency that is not installed; the
    message names the extra that brings it (``pip install
    'twisted-hvsock[tls]'``).
    """
