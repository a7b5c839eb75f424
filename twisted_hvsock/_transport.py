"""
The transport this package's protocols talk to, as a type.

Twisted types ``Protocol.transport`` as an optional ``ITransport``, which
has neither half-close nor producer methods. Every transport our protocols
run on (Twisted's TCP and Unix ones, both of our engines', TLS over them)
has all of these, so the protocols declare this instead.
"""

from __future__ import annotations

from twisted.internet.interfaces import IConsumer, IPushProducer, ITCPTransport

__all__ = ["IStreamTransport"]


class IStreamTransport(ITCPTransport, IConsumer, IPushProducer):
    """
    A connected stream: write, half-close and abort (``ITCPTransport``),
    take a producer (``IConsumer``) and pause its own reading
    (``IPushProducer``).
    """
