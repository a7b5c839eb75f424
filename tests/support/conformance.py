"""
What both I/O engines' conformance suites share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.error import ConnectionDone
from twisted.internet.test.test_tcp import (
    AbortConnectionMixin,
    ServerAbortsThenLoses,
    ServerAbortsTwice,
    WritingButNotAbortingClient,
)
from twisted.python.failure import Failure
from twisted.test.test_tcp import MyClientFactory, MyServerFactory


class OrderlyPeerAbortMixin(AbortConnectionMixin):
    """
    Twisted's abort tests, for socket families that cannot signal an abort
    the way TCP's reset does: a vsock close is always an orderly shutdown,
    and a Unix peer sees a reset only if unread data was left behind, which
    these two tests never leave. So where TCP's peer sees ``ConnectionLost``,
    these peers see an orderly end (``ConnectionDone``); everything else is
    Twisted's own check.
    """

    def test_serverAbortsConnectionTwice(self) -> None:
        self.runAbortTest(
            WritingButNotAbortingClient,
            ServerAbortsTwice,
            clientConnectionLostReason=ConnectionDone,
        )

    def test_serverAbortsConnectionThenLosesConnection(self) -> None:
        self.runAbortTest(
            WritingButNotAbortingClient,
            ServerAbortsThenLoses,
            clientConnectionLostReason=ConnectionDone,
        )


def connected_client_and_server(
    reactor: Any,
    listen: Callable[[MyServerFactory], Any],
    connect: Callable[[Any, MyClientFactory], object],
) -> Deferred[Any]:
    """
    What ``WriteSequenceTestsMixin.getConnectedClientAndServer`` must return:
    a Deferred firing with ``(client, server, port)`` once both protocols are
    connected; the reactor stops once both connections are lost.

    :param listen: starts listening with the server factory, returns the port.
    :param connect: connects the client factory to that port.
    """
    server = MyServerFactory()
    server.protocolConnectionMade = Deferred()
    server.protocolConnectionLost = Deferred()
    client = MyClientFactory()
    client.protocolConnectionMade = Deferred()
    client.protocolConnectionLost = Deferred()

    port = listen(server)
    lost = gatherResults([client.protocolConnectionLost, server.protocolConnectionLost])
    lost.addBoth(lambda result: (reactor.stop(), result)[1])

    connected: Deferred[Any] = Deferred()
    started = gatherResults(
        [client.protocolConnectionMade, server.protocolConnectionMade]
    )
    started.addCallback(lambda protocols: connected.callback((*protocols, port)))
    connect(port, client)
    return connected


def listen_now(endpoint: Any, factory: Any) -> Any:
    """
    The listening port of ``endpoint.listen(factory)``, which our endpoints
    fire at once: Twisted's conformance mixins want the port itself.
    """
    outcome: list[Any] = []
    endpoint.listen(factory).addBoth(outcome.append)
    (port,) = outcome
    if isinstance(port, Failure):
        port.raiseException()
    return port
