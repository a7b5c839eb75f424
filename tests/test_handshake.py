"""
The client handshake (header, one answer line, hand-over) in memory, byte by
byte and at its limits, with a clock for the timeout.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import error
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IProtocol, IProtocolFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from twisted_hvsock._handshake import MAX_REPLY, connect_with_handshake

from .support.unix import Collect


class StringEndpoint:
    """Connects every protocol at once to a ``StringTransport``."""

    def __init__(self) -> None:
        self.transport = StringTransport()

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        protocol = factory.buildProtocol(None)
        assert protocol is not None
        self.transport.protocol = protocol  # type: ignore[attr-defined]
        protocol.makeConnection(self.transport)
        return succeed(protocol)


def accept_ok(line: bytes) -> str | None:
    return None if line.startswith(b"OK ") else "expected OK <port>"


def start(
    factory: IProtocolFactory | None = None, check: Any = accept_ok
) -> tuple[StringEndpoint, Clock, Deferred[IProtocol], list[Any]]:
    endpoint, clock = StringEndpoint(), Clock()
    connecting = connect_with_handshake(
        clock,
        endpoint.connect,
        factory or Factory.forProtocol(Collect),
        header=b"CONNECT 52\n",
        check_reply=check,
        timeout=5,
        peer="the peer",
    )
    outcome: list[Any] = []
    connecting.addBoth(outcome.append)
    return endpoint, clock, connecting, outcome


def feed(endpoint: StringEndpoint, data: bytes) -> None:
    endpoint.transport.protocol.dataReceived(data)  # type: ignore[attr-defined]


def test_the_header_goes_out_and_nothing_happens_before_the_whole_line() -> None:
    endpoint, _, _, outcome = start()
    assert endpoint.transport.value() == b"CONNECT 52\n"
    for byte in b"OK 1073741824":
        feed(endpoint, bytes([byte]))
        assert outcome == []
    feed(endpoint, b"\n")
    [protocol] = outcome
    assert isinstance(protocol, Collect)
    assert endpoint.transport.protocol is protocol  # type: ignore[attr-defined]
    assert protocol.transport is endpoint.transport
    assert protocol.events == ["made"]


def test_bytes_after_the_line_reach_the_user_after_connection_made() -> None:
    endpoint, _, _, outcome = start()
    feed(endpoint, b"OK 52\nhello")
    feed(endpoint, b" again")
    assert outcome[0].events == ["made", b"hello", b" again"]


def test_a_line_of_exactly_the_limit_is_read_and_one_more_byte_is_refused() -> None:
    endpoint, _, _, outcome = start()
    feed(endpoint, b"OK " + b"1" * (MAX_REPLY - 4) + b"\n")
    assert isinstance(outcome[0], Collect)

    endpoint, _, _, outcome = start()
    feed(endpoint, b"OK " + b"1" * (MAX_REPLY - 3))
    [failure] = outcome
    assert failure.check(error.ConnectionRefusedError)
    assert "over 32 bytes" in str(failure.value)
    assert endpoint.transport.disconnected  # aborted


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b"NO\n", "answered b'NO': expected OK <port>"),
        (b"\n", "answered b'': expected OK <port>"),
    ],
)
def test_a_wrong_line_is_a_refusal_and_the_connection_is_aborted(
    answer: bytes, words: str
) -> None:
    endpoint, _, _, outcome = start()
    feed(endpoint, answer)
    [failure] = outcome
    assert failure.check(error.ConnectionRefusedError)
    assert words in str(failure.value)
    assert endpoint.transport.disconnected


def test_closing_before_the_line_is_a_refusal() -> None:
    endpoint, _, _, outcome = start()
    feed(endpoint, b"OK 5")
    endpoint.transport.protocol.connectionLost(  # type: ignore[attr-defined]
        Failure(error.ConnectionDone())
    )
    [failure] = outcome
    assert failure.check(error.ConnectionRefusedError)
    assert "closed the connection without answering" in str(failure.value)


def test_silence_times_out_and_aborts() -> None:
    endpoint, clock, _, outcome = start()
    clock.advance(4.9)
    assert outcome == []
    clock.advance(0.1)
    [failure] = outcome
    assert failure.check(error.TimeoutError)
    assert endpoint.transport.disconnected


def test_the_timer_stops_once_the_answer_came() -> None:
    endpoint, clock, _, outcome = start()
    feed(endpoint, b"OK 1\n")
    assert isinstance(outcome[0], Collect)
    assert clock.getDelayedCalls() == []


def test_without_an_answer_to_wait_for_the_user_has_the_connection_at_once() -> None:
    endpoint, _, _, outcome = start(check=None)
    assert endpoint.transport.value() == b"CONNECT 52\n"
    assert outcome[0].events == ["made"]


def test_a_factory_that_builds_no_protocol_fails_and_aborts() -> None:
    factory = Factory()
    factory.buildProtocol = lambda addr: None  # type: ignore[method-assign]
    endpoint, _, _, outcome = start(factory)
    feed(endpoint, b"OK 1\n")
    [failure] = outcome
    assert failure.check(error.NoProtocol)
    assert endpoint.transport.disconnected


def test_cancelling_during_the_handshake_aborts() -> None:
    endpoint, clock, connecting, outcome = start()
    connecting.cancel()
    [failure] = outcome
    assert failure.check(CancelledError)
    assert endpoint.transport.disconnected
    assert clock.getDelayedCalls() == []


def test_a_protocol_whose_connection_made_raises_fails_the_deferred() -> None:
    class Broken(Protocol):
        def connectionMade(self) -> None:
            raise RuntimeError("broken")

    endpoint, _, _, outcome = start(Factory.forProtocol(Broken))
    with pytest.raises(RuntimeError):
        feed(endpoint, b"OK 1\n")
    [failure] = outcome
    assert failure.check(RuntimeError)
