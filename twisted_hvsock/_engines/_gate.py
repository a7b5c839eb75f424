"""
The peer gate, above both engines: a factory wrapper that refuses a peer
before a protocol is built when a check says no (an allow-list of CIDs or
VMs, ``privileged=yes``).

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

from ..allow import PeerAllowList, PrivilegedPeers

#: What the gate asks of a peer: an allow-list, or the reserved-port check.
PeerCheck = PeerAllowList | PrivilegedPeers

__all__ = ["PeerGate", "gated", "refused_by"]

_log = Logger()


@implementer(IProtocolFactory, ILoggingContext)
class PeerGate:
    """
    Hands ``factory`` only the peers every check allows; any other is logged
    with the check it failed, counted in :attr:`refused`, and its connection
    closed.

    :ivar refused: how many connections the checks refused.
    """

    def __init__(
        self, factory: IProtocolFactory, checks: tuple[PeerCheck, ...]
    ) -> None:
        self.wrapped = factory
        self.checks = checks
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
        failed = next((c for c in self.checks if not c.allows(addr)), None)
        if failed is None:
            return self.wrapped.buildProtocol(addr)
        self.refused += 1
        _log.info(
            "{prefix} refused a connection from {peer}: {why}",
            prefix=self.logPrefix(),
            peer=addr,
            why=_why(failed),
        )
        return None


def _why(check: PeerCheck) -> str:
    if isinstance(check, PrivilegedPeers):
        return f"not from a reserved port ({check})"
    return f"not in allow={check}"


def gated(
    factory: IProtocolFactory, allow: PeerAllowList | None, privileged: bool = False
) -> IProtocolFactory:
    """
    ``factory`` behind a :class:`PeerGate` if there is anything to check:
    an ``allow`` list, or ``privileged`` (reserved source ports only).
    """
    checks: tuple[PeerCheck, ...] = (
        *(() if allow is None else (allow,)),
        *((PrivilegedPeers(),) if privileged else ()),
    )
    return PeerGate(factory, checks) if checks else factory


def refused_by(factory: object) -> int:
    """How many connections the gate ``factory`` is (if it is one) refused."""
    return factory.refused if isinstance(factory, PeerGate) else 0
