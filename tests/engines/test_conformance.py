"""
Twisted's own transport conformance suites, run against both I/O engines on
every reactor a user might run: the thread engine over Unix sockets on the
host and over AF_VSOCK (CID 1, vsock_loopback) in the guest, the reactor
engine over AF_VSOCK in the guest.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConnector, IReactorFDSet, IReactorTime
from twisted.internet.protocol import ClientFactory
from twisted.internet.test.connectionmixins import (
    ConnectionTestsMixin,
    EndpointCreator,
    StreamClientTestsMixin,
)
from twisted.internet.test.reactormixins import ReactorBuilder
from twisted.internet.test.test_tcp import WriteSequenceTestsMixin

from twisted_hvsock._engines.reactor import VSockConnector
from twisted_hvsock._engines.threads.client import ThreadedConnector
from twisted_hvsock._engines.threads.families import UNIX, VSOCK, SocketFamily
from twisted_hvsock._sockets.vsock_client import VSockTarget
from twisted_hvsock.address import CID_LOCAL, VSockAddress
from twisted_hvsock.threaded_unix import (
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
)
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from ..support.conformance import (
    OrderlyPeerAbortMixin,
    connected_client_and_server,
    listen_now,
)

# The reactors Linux users run. The thread engine needs nothing of a reactor
# but time and callFromThread; the reactor engine relies on their polling.
REACTORS = [
    "twisted.internet.epollreactor.EPollReactor",
    "twisted.internet.pollreactor.PollReactor",
    "twisted.internet.selectreactor.SelectReactor",
    "twisted.internet.test.reactormixins.AsyncioSelectorReactor",
]

# A vsock port nothing uses, where connecting fails at once.
NOWHERE_VSOCK = (CID_LOCAL, 0xFFFFFFF0)


def abstract_unix_name() -> bytes:
    """A fresh name in Linux's abstract namespace: no file to clean up."""
    return b"\0hvsock-test-" + uuid.uuid4().hex.encode()


class UNIXCreator(EndpointCreator):
    """Threaded Unix-socket endpoints meeting on a fresh abstract name."""

    def server(self, reactor: Any) -> ThreadedUNIXServerEndpoint:
        return ThreadedUNIXServerEndpoint(reactor, abstract_unix_name())

    def client(self, reactor: Any, serverAddress: Any) -> ThreadedUNIXClientEndpoint:
        return ThreadedUNIXClientEndpoint(reactor, serverAddress.name)


class VSockCreator(EndpointCreator):
    """vsock endpoints on engine ``io``, meeting over CID 1 on a kernel-picked port."""

    def __init__(self, io: str) -> None:
        self.io = io

    def server(self, reactor: Any) -> VSockServerEndpoint:
        return VSockServerEndpoint(reactor, 0, io=self.io)

    def client(self, reactor: Any, serverAddress: VSockAddress) -> VSockClientEndpoint:
        return VSockClientEndpoint(reactor, CID_LOCAL, serverAddress.port, io=self.io)


class EngineParts:
    """What the suites below need of an engine and socket family."""

    endpoints: EndpointCreator
    # Without a listener, where connecting fails at once.
    nowhere: Any = None

    def sockaddr_for(self, address: Any) -> Any:
        """Where a client reaches the listener at ``address``."""
        raise NotImplementedError

    def connector(self, reactor: Any, sockaddr: Any, factory: Any) -> IConnector:
        """A connector to ``sockaddr`` that has not started connecting."""
        raise NotImplementedError


class ReactorVSockBuilder(EngineParts, ReactorBuilder):
    _reactors = REACTORS
    requiredInterfaces = (IReactorFDSet,)
    endpoints = VSockCreator("reactor")
    nowhere = NOWHERE_VSOCK

    def sockaddr_for(self, address: Any) -> Any:
        return (CID_LOCAL, address.port)

    def connector(self, reactor: Any, sockaddr: Any, factory: Any) -> IConnector:
        return VSockConnector(VSockTarget(*sockaddr), factory, 30, reactor)


class ThreadEngineBuilder(EngineParts, ReactorBuilder):
    _reactors = REACTORS
    requiredInterfaces = (IReactorTime,)
    family: SocketFamily

    def runReactor(self, reactor: Any, timeout: float | None = None) -> None:
        super().runReactor(reactor, timeout)
        # The asyncio reactor's stop() schedules a no-op call that never runs
        # when stop() itself is called from a delayed call, as everything the
        # engine's threads hand the reactor is (its callFromThread is a
        # callLater(0)). Twisted's abort tests demand no delayed calls left.
        for call in reactor.getDelayedCalls():
            if (
                call.func.__qualname__
                == "AsyncioSelectorReactor.stop.<locals>.<lambda>"
            ):
                call.cancel()

    def connector(self, reactor: Any, sockaddr: Any, factory: Any) -> IConnector:
        return ThreadedConnector(self.family, sockaddr, factory, 30, reactor)


class ThreadedUNIXBuilder(ThreadEngineBuilder):
    endpoints = UNIXCreator()
    family = UNIX
    nowhere = b"\0hvsock-test-nobody-listens-here"

    def sockaddr_for(self, address: Any) -> Any:
        return address.name


class ThreadedVSockBuilder(ThreadEngineBuilder):
    endpoints = VSockCreator("threads")
    family = VSOCK
    nowhere = NOWHERE_VSOCK

    def sockaddr_for(self, address: Any) -> Any:
        return (CID_LOCAL, address.port)


class ConnectionTests(ConnectionTestsMixin):
    pass


class AbortConnectionTests(OrderlyPeerAbortMixin):
    pass


class StreamClientTests(EngineParts, StreamClientTestsMixin):
    """``listen`` and ``connect`` as the mixin expects them."""

    _sockaddr: Any = None

    def listen(self, reactor: Any, factory: Any) -> Any:
        port = listen_now(self.endpoints.server(reactor), factory)
        self._sockaddr = self.sockaddr_for(port.getHost())
        self.addCleanup(port.stopListening)  # type: ignore[attr-defined]
        return port

    def connect(self, reactor: Any, factory: ClientFactory) -> IConnector:
        # Without a listener, aim where nobody listens: the failure paths of
        # the mixin want exactly that.
        where = self._sockaddr if self._sockaddr is not None else self.nowhere
        connector = self.connector(reactor, where, factory)
        connector.connect()
        return connector


class WriteSequenceTests(EngineParts, WriteSequenceTestsMixin):
    def getConnectedClientAndServer(
        self, reactor: Any, interface: Any, addressFamily: Any
    ) -> Deferred[Any]:
        return connected_client_and_server(
            reactor,
            partial(listen_now, self.endpoints.server(reactor)),
            lambda port, client: self.connector(
                reactor, self.sockaddr_for(port.getHost()), client
            ).connect(),
        )


SUITES = (ConnectionTests, AbortConnectionTests, StreamClientTests, WriteSequenceTests)


def _make_cases(
    engine_builder: type[EngineParts], prefix: str, *marks: Any
) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for suite in SUITES:
        builder = type(f"{prefix}{suite.__name__}Builder", (engine_builder, suite), {})
        builder.__module__ = __name__
        cases.update(builder.makeTestCaseClasses())  # type: ignore[attr-defined]
    for case in cases.values():
        case.pytestmark = list(marks)
    return cases


# Host tier: the thread engine over Unix sockets.
globals().update(_make_cases(ThreadedUNIXBuilder, "ThreadedUNIX"))
# Kernel tier: both engines over AF_VSOCK, CID 1.
globals().update(_make_cases(ThreadedVSockBuilder, "ThreadedVSock", pytest.mark.kernel))
globals().update(_make_cases(ReactorVSockBuilder, "ReactorVSock", pytest.mark.kernel))
