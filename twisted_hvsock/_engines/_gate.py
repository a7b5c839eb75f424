"""
The allow-list gate, above both engines: a factory wrapper that refuses a
peer the list does not name before a protocol is built.

Both engines' ports close an accepted socket at once when ``buildProtocol``
returns ``None`` (Twisted's ``tcp.Port.doRead`` does, and so does the
thread engine's port), so the gate needs no accept loop of its own.
"""

from __future__ import annotations

from twisted.internet.interfaces import (
    IAddress,
    ILoggingContext,
    IProtocol,
    IProtocolFactory,
)
from twisted.logger import Logger
from twisted.python import reflect
from zope.interface import implementer

from ..allow import PeerAllowList

__all__ = ["PeerGate", "gated", "refused_by"]

_log = Logger()


@implementer(IProtocolFactory, ILoggingContext)
class PeerGate:
    """
    Hands ``factory`` only the peers ``allow`` names; any other is logged
    and counted in :attr:`refused`, and its connection closed.

    :ivar refused: how many connections ``allow`` refused.
    """

    def __init__(self, factory: IProtocolFactory, allow: PeerAllowList) -> None:
        self.wrapped = factory
        self.allow = allow
        self.refused = 0

    def logPrefix(self) -> str:
        if ILoggingContext.providedBy(self.wrapped):
            prefix: str = self.wrapped.logPrefix()
            return prefix
        return reflect.qual(self.wrapped.__class__)

    def doStart(self) -> None:
        self.wrapped.doStart()

    def doStop(self) -> None:
        self.wrapped.doStop()

    def buildProtocol(self, addr: IAddress) -> IProtocol | None:
        if self.allow.allows(addr):
            return self.wrapped.buildProtocol(addr)
        self.refused += 1
        _log.info(
            "{prefix} refused a connection from {peer}: not in allow={allow}",
            prefix=self.logPrefix(),
            peer=addr,
            allow=self.allow,
        )
        return None


def gated(factory: IProtocolFactory, allow: PeerAllowList | None) -> IProtocolFactory:
    """``factory`` behind a :class:`PeerGate` if there is an ``allow`` list."""
    return factory if allow is None else PeerGate(factory, allow)


def refused_by(factory: object) -> int:
    """How many connections the gate ``factory`` is (if it is one) refused."""
    return factory.refused if isinstance(factory, PeerGate) else 0
