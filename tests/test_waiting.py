"""
Waiting for the other side (``wait=``): the retry loop, its pauses, its
deadline and its cancellation, on a fake clock with scripted one-attempt
endpoints. What each backend's failures are, on real sockets, is in
tests/test_not_ready.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from twisted.internet import error
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.interfaces import IProtocol, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_hvsock._waiting import (
    BACKOFF,
    Backoff,
    WaitingClientEndpoint,
    check_wait,
    connect_waiting,
)
from twisted_hvsock.errors import WaitTimeoutError

#: A connect that would connect.
CONNECT = "connect"


def refused(n: int = 0) -> error.ConnectionRefusedError:
    return error.ConnectionRefusedError(string=f"refusal {n}")


def not_yet(failure: Failure) -> bool:
    """The tests' "not there yet": a refusal."""
    return failure.check(error.ConnectionRefusedError) is not None


@implementer(IStreamClientEndpoint)
class Scripted:
    """
    A one-attempt endpoint whose attempts end as ``outcomes`` say, in turn:
    an exception fails the attempt at once, :data:`CONNECT` connects it at
    once, ``None`` leaves it in flight (in :attr:`pending`).

    :ivar started: the clock's time at each attempt's start.
    :ivar cancelled: the attempts cancelled while in flight.
    """

    def __init__(self, clock: Clock, outcomes: Iterable[object]) -> None:
        self.clock = clock
        self.outcomes = iter(outcomes)
        self.started: list[float] = []
        self.pending: list[Deferred[IProtocol]] = []
        self.cancelled: list[Deferred[IProtocol]] = []

    def connect(self, protocolFactory: Any) -> Deferred[IProtocol]:
        self.started.append(self.clock.seconds())
        outcome = next(self.outcomes)
        if isinstance(outcome, BaseException):
            return fail(outcome)
        if outcome == CONNECT:
            return succeed(connected(protocolFactory))
        attempt: Deferred[IProtocol] = Deferred(self.cancelled.append)
        self.pending.append(attempt)
        return attempt


def connected(factory: Any) -> IProtocol:
    protocol: IProtocol = factory.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    return protocol


def waiting(
    clock: Clock,
    endpoint: Scripted,
    wait: float = 10,
    draw: Callable[[], float] = lambda: 0.0,
    retryable: Callable[[Failure], bool] = not_yet,
) -> Deferred[IProtocol]:
    """Connect through ``endpoint`` with ``wait``; no jitter unless ``draw``."""
    return WaitingClientEndpoint(
        clock, endpoint, wait, retryable, target="vsock://3:5000", draw=draw
    ).connect(Factory.forProtocol(Protocol))


def run(clock: Clock, result: Deferred[Any]) -> None:
    """Advance ``clock`` from one delayed call to the next until ``result`` fires."""
    while not result.called:
        calls = clock.getDelayedCalls()
        assert calls, "nothing left to happen, yet no result"
        clock.advance(min(call.getTime() for call in calls) - clock.seconds())


def failure_of(result: Deferred[Any]) -> Failure:
    outcome: list[Failure] = []
    result.addErrback(outcome.append)
    assert outcome, "the Deferred has not failed"
    return outcome[0]


def test_connects_once_a_failure_that_means_not_yet_stops() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(1), refused(2), refused(3), CONNECT])
    result = waiting(clock, endpoint)
    run(clock, result)
    protocol = result.result
    assert isinstance(protocol, Protocol) and protocol.connected
    assert endpoint.started == pytest.approx([0, 0.05, 0.15, 0.35])
    assert clock.getDelayedCalls() == []


def test_connecting_at_the_first_attempt_leaves_no_timer() -> None:
    clock = Clock()
    result = waiting(clock, Scripted(clock, [CONNECT]))
    assert isinstance(result.result, Protocol)
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize(
    "outcomes",
    [
        [ValueError("cid must be ...")],
        [refused(), error.ConnectError(13, "Permission denied")],
    ],
    ids=["first attempt", "after a refusal"],
)
def test_a_failure_waiting_cannot_mend_is_the_result_at_once(
    outcomes: list[BaseException],
) -> None:
    clock = Clock()
    endpoint = Scripted(clock, outcomes)
    result = waiting(clock, endpoint)
    run(clock, result)
    assert failure_of(result).value is outcomes[-1]
    assert len(endpoint.started) == len(outcomes)
    assert clock.getDelayedCalls() == []


def test_a_connect_that_raises_fails_the_deferred() -> None:
    @implementer(IStreamClientEndpoint)
    class Raising:
        def connect(self, protocolFactory: Any) -> Deferred[IProtocol]:
            raise ValueError("no such VM")

    clock = Clock()
    result = WaitingClientEndpoint(clock, Raising(), 10, not_yet).connect(Factory())
    assert failure_of(result).check(ValueError)
    assert clock.getDelayedCalls() == []


def test_the_wait_ends_saying_how_long_how_many_and_the_last_error() -> None:
    clock = Clock()
    failures = [refused(n) for n in range(1, 100)]
    endpoint = Scripted(clock, failures)
    result = waiting(clock, endpoint, wait=5, draw=random.Random(29).random)
    run(clock, result)
    reason = failure_of(result)
    assert reason.check(error.ConnectError)  # what handlers of connects catch
    err = reason.value
    assert isinstance(err, WaitTimeoutError)
    attempts = len(endpoint.started)
    assert err.attempts == attempts
    assert err.last_error is failures[attempts - 1]
    assert err.__cause__ is err.last_error
    assert 5 <= err.elapsed <= 5 + BACKOFF.longest
    assert err.target == "vsock://3:5000"
    assert str(err) == (
        f"gave up connecting to vsock://3:5000 after 5 seconds and {attempts} "
        f"attempts; the last attempt: {failures[attempts - 1]}"
    )
    assert clock.getDelayedCalls() == []


def test_the_last_attempt_starts_in_time_to_connect() -> None:
    # Pauses of 0.05, 0.1, 0.2, 0.4, then 0.8, which the wait's end cuts to
    # leave the last attempt the first pause's length.
    clock = Clock()
    endpoint = Scripted(clock, [refused(n) for n in range(5)] + [CONNECT])
    result = waiting(clock, endpoint, wait=1)
    run(clock, result)
    assert isinstance(result.result, Protocol)
    assert endpoint.started == pytest.approx([0, 0.05, 0.15, 0.35, 0.75, 0.95])


def test_no_attempt_starts_in_the_last_moment_of_the_wait() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(n) for n in range(10)])
    result = waiting(clock, endpoint, wait=1)
    run(clock, result)
    assert isinstance(failure_of(result).value, WaitTimeoutError)
    assert endpoint.started == pytest.approx([0, 0.05, 0.15, 0.35, 0.75, 0.95])


def test_an_attempt_still_connecting_when_the_wait_ends_is_cancelled() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(), None])
    result = waiting(clock, endpoint, wait=3)
    run(clock, result)
    assert endpoint.cancelled == endpoint.pending
    err = failure_of(result).value
    assert isinstance(err, WaitTimeoutError)
    assert err.attempts == 2
    assert err.elapsed == 3
    assert isinstance(err.last_error, error.TimeoutError)
    assert "attempt 2 was still connecting when the wait ended" in str(err)
    assert clock.getDelayedCalls() == []


def test_cancelling_between_attempts_stops_them_and_leaves_no_timer() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(), CONNECT])
    result = waiting(clock, endpoint)
    assert len(clock.getDelayedCalls()) == 2  # the pause and the wait's end
    result.cancel()
    assert failure_of(result).check(CancelledError)
    assert clock.getDelayedCalls() == []
    clock.advance(60)
    assert len(endpoint.started) == 1


def test_cancelling_during_an_attempt_cancels_it() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(), None])
    result = waiting(clock, endpoint)
    clock.advance(0.05)
    assert len(endpoint.pending) == 1
    result.cancel()
    assert endpoint.cancelled == endpoint.pending
    assert failure_of(result).check(CancelledError)
    assert clock.getDelayedCalls() == []


def test_an_attempt_that_connects_as_the_caller_leaves_is_closed() -> None:
    # An attempt that, cancelled, finds itself connected already.
    @implementer(IStreamClientEndpoint)
    class ConnectedOnCancel:
        def connect(self, protocolFactory: Any) -> Deferred[IProtocol]:
            self.protocol = connected(protocolFactory)
            return Deferred(lambda attempt: attempt.callback(self.protocol))

    clock = Clock()
    endpoint = ConnectedOnCancel()
    result = WaitingClientEndpoint(clock, endpoint, 10, not_yet).connect(
        Factory.forProtocol(Protocol)
    )
    result.cancel()
    assert failure_of(result).check(CancelledError)
    transport = endpoint.protocol.transport  # type: ignore[attr-defined]
    assert transport.disconnecting


def test_each_retry_is_logged_at_debug_level() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(1), refused(2), CONNECT])
    with capturedLogs() as events:
        result = waiting(clock, endpoint)
        run(clock, result)
    retries = [e for e in events if e.get("target") == "vsock://3:5000"]
    assert [e["log_level"] for e in retries] == [LogLevel.debug] * 2
    assert [e["attempt"] for e in retries] == [1, 2]
    assert formatEvent(retries[0]) == (
        "vsock://3:5000: attempt 1 failed (Connection was refused by other "
        "side: refusal 1.); trying again in 0.050 seconds"
    )


def test_a_failure_with_no_time_left_for_another_is_logged() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(1)])
    with capturedLogs() as events:
        result = waiting(clock, endpoint, wait=0.05)
        run(clock, result)
    assert isinstance(failure_of(result).value, WaitTimeoutError)
    (event,) = [e for e in events if e.get("target") == "vsock://3:5000"]
    assert event["log_level"] == LogLevel.debug
    assert "no time is left for another" in formatEvent(event)


def test_the_pauses_double_from_tens_of_milliseconds_to_a_second() -> None:
    pauses = [BACKOFF.pause(n, lambda: 0.0) for n in range(1, 9)]
    assert pauses == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1, 1, 1])


@pytest.mark.parametrize("failures", [1, 2, 5, 6, 10_000])
def test_jitter_shortens_a_pause_by_at_most_half(failures: int) -> None:
    step = min(1.0, 0.05 * 2.0 ** min(failures - 1, 10))
    draws = random.Random(failures)
    pauses = [BACKOFF.pause(failures, draws.random) for _ in range(1000)]
    assert all(step / 2 < pause <= step for pause in pauses)
    # Spread over the range, so that clients started together do not align.
    assert max(pauses) - min(pauses) > step / 4


def test_the_jitter_of_a_run_comes_from_its_random_source() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(), refused(), CONNECT])
    draws = iter([0.5, 0.9])
    run(clock, waiting(clock, endpoint, draw=lambda: next(draws)))
    assert endpoint.started == pytest.approx([0, 0.0375, 0.0375 + 0.055])


@pytest.mark.parametrize(
    "fields",
    [
        {"first": 0},
        {"first": 2, "longest": 1},
        {"factor": 0.5},
        {"jitter": 1},
        {"jitter": -0.1},
    ],
)
def test_a_backoff_out_of_range_is_refused(fields: dict[str, float]) -> None:
    name = next(iter(fields))
    with pytest.raises(ValueError, match=name):
        Backoff(**fields)


@pytest.mark.parametrize("wait", [0, -1, float("inf"), float("nan"), True, "5"])
def test_wait_must_be_a_positive_finite_number_of_seconds(wait: object) -> None:
    with pytest.raises(ValueError, match="wait must be a positive, finite number"):
        check_wait(wait)
    with pytest.raises(ValueError, match="wait must be"):
        WaitingClientEndpoint(Clock(), Scripted(Clock(), []), wait, not_yet)  # type: ignore[arg-type]


def test_the_wrapper_is_a_client_endpoint_named_after_what_it_wraps() -> None:
    endpoint = Scripted(Clock(), [])
    waiting_endpoint = WaitingClientEndpoint(Clock(), endpoint, 2.5, not_yet)
    assert verifyObject(IStreamClientEndpoint, waiting_endpoint)
    assert repr(waiting_endpoint) == f"<WaitingClientEndpoint {endpoint!r} wait=2.5>"


def test_the_function_takes_any_one_attempt_connect() -> None:
    clock = Clock()
    endpoint = Scripted(clock, [refused(), CONNECT])
    result = connect_waiting(
        clock,
        endpoint.connect,
        Factory.forProtocol(Protocol),
        wait=1,
        retryable=not_yet,
        target="hybridvsock:path=v.sock:port=52",
    )
    run(clock, result)
    assert isinstance(result.result, Protocol)
