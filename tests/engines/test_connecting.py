"""
``connect_through``: a connector built around a wrapping factory, connected
as Twisted's client endpoints connect theirs. The Deferred fires with the
user's protocol once connected, fails with the connector's error, and fails
rather than raises when the connector cannot even be built.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.address import UNIXAddress
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from twisted_hvsock._engines._connecting import connect_through


class Connector:
    """Stands in for an engine's connector: connects when told to."""

    def __init__(self, wrapping: IProtocolFactory) -> None:
        self.wrapping: Any = wrapping
        self.connected = False

    def connect(self) -> None:
        self.connected = True

    def succeed(self) -> Protocol:
        protocol = self.wrapping.buildProtocol(UNIXAddress("peer"))
        protocol.makeConnection(StringTransport())
        return protocol

    def fail(self, reason: Exception) -> None:
        self.wrapping.clientConnectionFailed(self, Failure(reason))


def recording(made: list[Connector]) -> Any:
    def make(wrapping: IProtocolFactory) -> Connector:
        made.append(Connector(wrapping))
        return made[-1]

    return make


@pytest_twisted.ensureDeferred
async def test_it_fires_with_the_user_s_protocol_once_connected() -> None:
    made: list[Connector] = []
    connecting = connect_through(Factory.forProtocol(Protocol), recording(made))
    [connector] = made
    assert connector.connected and not connecting.called
    connector.succeed()
    protocol = await connecting
    assert type(protocol) is Protocol
    assert protocol.transport is not None


@pytest_twisted.ensureDeferred
async def test_it_fails_with_the_connector_s_error() -> None:
    made: list[Connector] = []
    connecting = connect_through(Factory.forProtocol(Protocol), recording(made))
    made[0].fail(ConnectionRefusedError("nothing listens"))
    with pytest.raises(ConnectionRefusedError, match="nothing listens"):
        await connecting


@pytest_twisted.ensureDeferred
async def test_a_connector_that_cannot_be_built_fails_the_deferred() -> None:
    def broken(_: IProtocolFactory) -> Connector:
        raise OSError(24, "Too many open files")

    connecting = connect_through(Factory.forProtocol(Protocol), broken)
    with pytest.raises(OSError, match="Too many open files"):
        await connecting
