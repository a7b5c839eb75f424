"""
Interfaces this package's transports provide beyond Twisted's own.
"""

from __future__ import annotations

from zope.interface import Interface

__all__ = ["IMessageTransport"]


class IMessageTransport(Interface):
    """
    A marker: the transport keeps message boundaries (a ``type=seqpacket``
    vsock connection).

    Each ``write(data)`` sends ``data`` as one message, and
    ``writeSequence(parts)`` sends the joined parts as one; writes are never
    merged or split. Each ``dataReceived(data)`` delivers one whole message,
    exactly as its sender wrote it. An empty write sends nothing. A protocol
    that relies on message boundaries can check
    ``IMessageTransport.providedBy(self.transport)`` in ``connectionMade``.
    """
