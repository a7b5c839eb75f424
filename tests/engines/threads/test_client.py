"""
The thread engine's connector when the client cannot even make its socket
(out of descriptors, a family the system lacks): it fails as Twisted's
connectors do, on the next reactor turn and once, with the family's error.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from twisted.internet import error
from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from twisted_hvsock._engines.threads.client import ThreadedConnector
from twisted_hvsock._engines.threads.families import SocketFamily


class NoSockets(SocketFamily):
    """A family whose ``socket()`` fails, and whose OS errors say where to."""

    name = "NONE"

    def new_socket(self) -> socket.socket:
        raise OSError(errno.EMFILE, "Too many open files")

    def address(self, sockaddr: Any) -> IAddress:
        return UNIXAddress(sockaddr)

    def connect_error(self, err: BaseException, sockaddr: Any) -> BaseException:
        if isinstance(err, OSError):
            return error.ConnectError(string=f"{err} (connecting to {sockaddr!r})")
        return err


class Failures(ClientFactory):
    protocol = Protocol

    def __init__(self) -> None:
        self.failures: list[Failure] = []

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.failures.append(reason)


def test_a_socket_that_cannot_be_made_fails_the_connect_on_the_next_turn() -> None:
    clock = MemoryReactorClock()
    factory = Failures()
    ThreadedConnector(NoSockets(), b"/run/x.sock", factory, 30, clock).connect()
    assert factory.failures == []
    clock.advance(0)
    [reason] = factory.failures
    assert reason.check(error.ConnectError)
    assert "Too many open files" in str(reason.value)
    assert "/run/x.sock" in str(reason.value)
    clock.advance(30)
    assert len(factory.failures) == 1


def test_stopping_a_connect_that_has_no_socket_fails_it_once() -> None:
    clock = MemoryReactorClock()
    factory = Failures()
    connector = ThreadedConnector(NoSockets(), b"/run/x.sock", factory, 30, clock)
    connector.connect()
    connector.stopConnecting()
    clock.advance(0)
    [reason] = factory.failures
    assert reason.check(error.UserError)
