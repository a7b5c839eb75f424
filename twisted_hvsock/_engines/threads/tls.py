"""
``startTLS`` for the thread engine's connections: Twisted's TLS layer put
between a connection and its protocol, as on Twisted's TCP transports, and
the way that layer writes to the socket beneath it.

This module needs pyOpenSSL: the transport imports it only in ``startTLS``.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import _newtls

from .transport import ThreadedTransport

__all__ = ["start_tls"]


class _BelowTLS:
    """
    The connection under its TLS layer: Twisted's TLS layer (through
    ``_newtls._BypassTLS``) calls these with the transport, to reach the
    socket without passing through itself again.
    """

    write = ThreadedTransport._write
    writeSequence = ThreadedTransport._write_sequence
    loseConnection = ThreadedTransport._lose_connection
    registerProducer = ThreadedTransport._register_producer
    unregisterProducer = ThreadedTransport._unregister_producer


def start_tls(transport: ThreadedTransport, contextFactory: Any, normal: bool) -> None:
    """
    Put Twisted's TLS layer between ``transport`` and its protocol
    (``ITLSTransport.startTLS``): from now on ``transport.protocol`` is
    that layer, and the transport's writes, closing and producers go
    through it.
    """
    start: Any = _newtls.startTLS
    start(transport, contextFactory, normal, _BelowTLS)
