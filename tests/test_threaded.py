"""
Twisted's own transport conformance suites, run against the thread-backed
engine: over Unix sockets on the host, over AF_VSOCK (CID 1,
vsock_loopback) in the guest, on every reactor a user might run.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import ClientFactory
from twisted.internet.test.connectionmixins import (
    ConnectionTestsMixin,
    EndpointCreator,
    StreamClientTestsMixin,
)
from twisted.internet.test.reactormixins import ReactorBuilder
from twisted.internet.test.test_tcp import WriteSequenceTestsMixin

from twisted_hvsock._threaded import ThreadedConnector
from twisted_hvsock._threaded_families import UNIX, VSOCK
from twisted_hvsock.address import CID_LOCAL, VSockAddress
from twisted_hvsock.endpoints import VSockClientEndpoint, VSockServerEndpoint
from twisted_hvsock.threaded_unix import (
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
)

from .support.conformance import (
    OrderlyPeerAbortMixin,
    connected_client_and_server,
    listen_now,
)

# The engine needs nothing of a reactor but time and callFromThread, so it
# runs on every one; these are the ones Linux users run.
REACTORS = [
    "twisted.internet.epollreactor.EPollReactor",
    "twisted.internet.pollreactor.PollReactor",
    "twisted.internet.selectreactor.SelectReactor",
    "twisted.internet.test.reactormixins.AsyncioSelectorReactor",
]


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
    """Threaded vsock endpoints meeting over CID 1 on a port the kernel picks."""

    def server(self, reactor: Any) -> VSockServerEndpoint:
        return VSockServerEndpoint(reactor, 0, io="threads")

    def client(self, reactor: Any, serverAddress: VSockAddress) -> VSockClientEndpoint:
        return VSockClientEndpoint(reactor, CID_LOCAL, serverAddress.port, io="threads")


class ThreadedBuilder(ReactorBuilder):
    _reactors = REACTORS
    requiredInterfaces = (IReactorTime,)
    endpoints: EndpointCreator

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

    def sockaddr_for(self, address: Any) -> Any:
        """Where a client reaches the listener at ``address``."""
        raise NotImplementedError

    # Without a listener, where connecting fails at once.
    nowhere: Any = None
    family: Any = None


class UNIXBuilder(ThreadedBuilder):
    endpoints = UNIXCreator()
    family = UNIX
    nowhere = b"\0hvsock-test-nobody-listens-here"

    def sockaddr_for(self, address: Any) -> Any:
        return address.name


class VSockBuilder(ThreadedBuilder):
    endpoints = VSockCreator()
    family = VSOCK
    nowhere = (CID_LOCAL, 0xFFFFFFF0)

    def sockaddr_for(self, address: Any) -> Any:
        return (CID_LOCAL, address.port)


class ConnectionTests(ConnectionTestsMixin):
    pass


class AbortConnectionTests(OrderlyPeerAbortMixin):
    pass


class StreamClientTests(StreamClientTestsMixin):
    """``listen`` and ``connect`` as the mixin expects them."""

    _sockaddr: Any = None

    def listen(self, reactor: Any, factory: Any) -> Any:
        port = listen_now(self.endpoints.server(reactor), factory)  # type: ignore[attr-defined]
        self._sockaddr = self.sockaddr_for(port.getHost())  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)  # type: ignore[attr-defined]
        return port

    def connect(self, reactor: Any, factory: ClientFactory) -> ThreadedConnector:
        # Without a listener, aim where nobody listens: the failure paths of
        # the mixin want exactly that.
        where = self._sockaddr if self._sockaddr is not None else self.nowhere  # type: ignore[attr-defined]
        connector = ThreadedConnector(self.family, where, factory, 30, reactor)  # type: ignore[attr-defined]
        connector.connect()
        return connector


class WriteSequenceTests(WriteSequenceTestsMixin):
    requiredInterfaces = (IReactorTime,)

    def getConnectedClientAndServer(
        self, reactor: Any, interface: Any, addressFamily: Any
    ) -> Deferred[Any]:
        return connected_client_and_server(
            reactor,
            partial(listen_now, self.endpoints.server(reactor)),  # type: ignore[attr-defined]
            lambda port, client: ThreadedConnector(
                self.family,  # type: ignore[attr-defined]
                self.sockaddr_for(port.getHost()),  # type: ignore[attr-defined]
                client,
                30,
                reactor,
            ).connect(),
        )


SUITES = (ConnectionTests, AbortConnectionTests, StreamClientTests, WriteSequenceTests)


def _make_cases(family_builder: type[ThreadedBuilder], prefix: str) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for suite in SUITES:
        builder = type(f"{prefix}{suite.__name__}Builder", (family_builder, suite), {})
        builder.__module__ = __name__
        cases.update(builder.makeTestCaseClasses())  # type: ignore[attr-defined]
    return cases


# Host tier: Unix sockets.
globals().update(_make_cases(UNIXBuilder, "ThreadedUNIX"))

# Kernel tier: AF_VSOCK over CID 1.
_vsock_cases = _make_cases(VSockBuilder, "ThreadedVSock")
for _case in _vsock_cases.values():
    _case.pytestmark = [pytest.mark.kernel]
globals().update(_vsock_cases)
