"""
Exceptions raised by twisted-hvsock beyond Twisted's own.
"""

from __future__ import annotations

__all__ = ["VSockUnavailableError"]


class VSockUnavailableError(OSError):
    """
    This machine cannot make AF_VSOCK sockets; the message says what is
    missing and how to get it.
    """
