"""
Twisted's own transport conformance suites, run against the reactor-native
AF_VSOCK transport over the guest's real kernel (CID 1, vsock_loopback).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFDSet
from twisted.internet.protocol import ClientFactory
from twisted.internet.test.connectionmixins import (
    ConnectionTestsMixin,
    EndpointCreator,
    StreamClientTestsMixin,
)
from twisted.internet.test.reactormixins import ReactorBuilder
from twisted.internet.test.test_tcp import WriteSequenceTestsMixin

from twisted_hvsock._vsock_native import VSockConnector
from twisted_hvsock.address import CID_LOCAL, VSockAddress
from twisted_hvsock.endpoints import VSockClientEndpoint, VSockServerEndpoint

from .support.conformance import (
    OrderlyPeerAbortMixin,
    connected_client_and_server,
    listen_now,
)

pytestmark = pytest.mark.kernel

# The reactors whose file-descriptor polling the native engine relies on.
POLLING_REACTORS = [
    "twisted.internet.epollreactor.EPollReactor",
    "twisted.internet.pollreactor.PollReactor",
    "twisted.internet.selectreactor.SelectReactor",
    "twisted.internet.test.reactormixins.AsyncioSelectorReactor",
]


class VSockCreator(EndpointCreator):
    """
    Endpoints that meet over CID 1 on a port the kernel picks.
    """

    def server(self, reactor: Any) -> VSockServerEndpoint:
        return VSockServerEndpoint(reactor, 0)

    def client(self, reactor: Any, serverAddress: VSockAddress) -> VSockClientEndpoint:
        return VSockClientEndpoint(reactor, CID_LOCAL, serverAddress.port)


class VSockBuilder(ReactorBuilder):
    _reactors = POLLING_REACTORS
    requiredInterfaces = (IReactorFDSet,)
    endpoints = VSockCreator()


class VSockConnectionTestsBuilder(VSockBuilder, ConnectionTestsMixin):
    pass


class VSockAbortConnectionTestsBuilder(VSockBuilder, OrderlyPeerAbortMixin):
    pass


class VSockStreamClientTestsBuilder(VSockBuilder, StreamClientTestsMixin):
    """
    ``listen`` and ``connect`` as the mixin expects them: a port on any CID,
    and a connector aimed at it through CID 1.
    """

    _port: int | None = None

    def listen(self, reactor: Any, factory: Any) -> Any:
        port = listen_now(self.endpoints.server(reactor), factory)
        self._port = port.getHost().port
        self.addCleanup(port.stopListening)
        return port

    def connect(self, reactor: Any, factory: ClientFactory) -> VSockConnector:
        # Without a listener, aim at a port nothing uses: the failure paths
        # of the mixin want exactly that.
        port = self._port if self._port is not None else 0xFFFFFFF0
        connector = VSockConnector(CID_LOCAL, port, factory, 30, reactor)
        connector.connect()
        return connector


class VSockWriteSequenceTestsBuilder(VSockBuilder, WriteSequenceTestsMixin):
    def getConnectedClientAndServer(
        self, reactor: Any, interface: Any, addressFamily: Any
    ) -> Deferred[Any]:
        return connected_client_and_server(
            reactor,
            partial(listen_now, self.endpoints.server(reactor)),
            lambda port, client: VSockConnector(
                CID_LOCAL, port.getHost().port, client, 30, reactor
            ).connect(),
        )


for _builder in (
    VSockConnectionTestsBuilder,
    VSockAbortConnectionTestsBuilder,
    VSockStreamClientTestsBuilder,
    VSockWriteSequenceTestsBuilder,
):
    globals().update(_builder.makeTestCaseClasses())
