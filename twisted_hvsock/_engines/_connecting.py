"""
Connecting a connector as Twisted's own client endpoints do, for both
engines' connectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import _WrappingFactory
from twisted.internet.interfaces import IProtocol, IProtocolFactory

__all__ = ["connect_through"]


def connect_through(
    factory: IProtocolFactory,
    make_connector: Callable[[IProtocolFactory], Any],
) -> defer.Deferred[IProtocol]:
    """
    Connect the connector ``make_connector`` builds through a wrapping
    factory that fires the Deferred and passes ``IHalfCloseableProtocol``
    and friends through, with any error raised on the way failing the
    Deferred.
    """
    wrapping = _WrappingFactory(factory)
    try:
        make_connector(wrapping).connect()
    except BaseException:
        return defer.fail()
    return wrapping._onConnection
