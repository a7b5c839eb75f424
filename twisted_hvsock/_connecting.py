"""
Connecting a client endpoint through a Twisted connector, as Twisted's own
client endpoints do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import _WrappingFactory
from twisted.internet.interfaces import IProtocol, IProtocolFactory

__all__ = ["connect_through"]


def connect_through(
    protocolFactory: IProtocolFactory,
    make_connector: Callable[[IProtocolFactory], Any],
) -> defer.Deferred[IProtocol]:
    """
    Connect the connector ``make_connector`` builds through a wrapping
    factory that fires the Deferred and passes ``IHalfCloseableProtocol`` and
    friends through, with any error raised on the way failing the Deferred.

    :param make_connector: builds an ``IConnector`` for the wrapping factory.
    :return: a Deferred firing with the connected protocol.
    """
    wrapping = _WrappingFactory(protocolFactory)
    try:
        make_connector(wrapping).connect()
    except BaseException:
        return defer.fail()
    return wrapping._onConnection
