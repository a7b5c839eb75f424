"""
Connecting once the other side is ready: a client given ``wait=`` repeats
its one-attempt connect until it succeeds, fails in a way retrying cannot
mend, or the wait ends.

Only the loop and its pauses live here; what counts as "not there yet" is
each backend's, in :mod:`._not_ready`.

The rules, as the docs state them:

- the wait starts with the first attempt and ends ``wait`` seconds later;
  an attempt still connecting then is cancelled, and no other starts;
- after a failure that means "not there yet", the next attempt starts after
  a pause that doubles from tens of milliseconds up to about a second, each
  shortened by a random part so that clients started together spread out;
  the last pause is cut so that the last attempt starts at least the first
  pause's length before the wait ends;
- any other failure is the result at once, unchanged;
- each attempt is the endpoint's own connect, so each has a fresh socket,
  and its own ``timeout``;
- cancelling the Deferred stops the retries and cancels the attempt in
  flight.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ._checks import MAX_TIMEOUT, check_seconds
from .errors import WaitTimeoutError

__all__ = [
    "BACKOFF",
    "Backoff",
    "Connect",
    "Retryable",
    "WaitingClientEndpoint",
    "check_wait",
    "connect_waiting",
]

#: Whether a failed attempt means "not there yet", so that another is worth
#: making.
Retryable = Callable[[Failure], bool]

#: One connection attempt, as a client endpoint's ``connect``.
Connect = Callable[[IProtocolFactory], defer.Deferred[IProtocol]]

_log = Logger()


def check_wait(wait: object) -> float | None:
    """
    A ``wait``, checked as :func:`~twisted_hvsock._checks.check_seconds`
    does; ``None`` (one attempt) stays ``None``.
    """
    return None if wait is None else check_seconds(wait, "wait")


@dataclass(frozen=True)
class Backoff:
    """
    The pauses between attempts: ``first`` seconds after the first failure,
    ``factor`` times longer after each further one, at most ``longest``;
    each then shortened by a random part of up to ``jitter`` of itself.

    :raises ValueError: naming the field out of range.
    """

    first: float = 0.05
    factor: float = 2.0
    longest: float = 1.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.longest <= MAX_TIMEOUT:
            raise ValueError(
                "first and longest must be seconds with 0 < first <= longest, "
                f"got first={self.first!r}, longest={self.longest!r}"
            )
        if not 1 <= self.factor <= 1000:
            raise ValueError(f"factor must be from 1 to 1000, got {self.factor!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be from 0 to below 1, got {self.jitter!r}")

    @property
    def shortest(self) -> float:
        """The shortest pause: the first, shortened by all the jitter."""
        return self.first * (1 - self.jitter)

    def pause(self, failures: int, draw: Callable[[], float]) -> float:
        """
        The pause after the ``failures``-th failed attempt in a row (from 1).

        :param draw: a random number from 0 to below 1, as
            :func:`random.random`.
        """
        try:
            step = min(self.longest, self.first * self.factor ** (failures - 1))
        except OverflowError:  # hours of failures: the pauses stopped growing
            step = self.longest
        return step * (1 - self.jitter * draw())


#: The pauses every client with ``wait=`` uses: 25-50 ms after the first
#: failure, doubling up to 0.5-1 s.
BACKOFF = Backoff()


def connect_waiting(
    reactor: IReactorTime,
    connect: Connect,
    factory: IProtocolFactory,
    *,
    wait: float,
    retryable: Retryable,
    target: str,
    backoff: Backoff = BACKOFF,
    draw: Callable[[], float] = random.random,
) -> defer.Deferred[IProtocol]:
    """
    Connect ``factory`` with ``connect``, trying again while the attempts
    fail in ways ``retryable`` accepts, until ``wait`` seconds have passed
    since the first one started.

    :param reactor: the clock the pauses and the wait are measured on.
    :param connect: one connection attempt, with a fresh socket each time
        (a one-attempt client endpoint's ``connect``).
    :param wait: seconds, as :func:`check_wait` accepts.
    :param retryable: whether a failed attempt means "not there yet";
        :mod:`twisted_hvsock._not_ready` has one per backend.
    :param target: what is connected to, as the user would write it
        (``"vsock://3:5000"``), for the debug log and the error.
    :param backoff: the pauses between attempts.
    :param draw: the random source of the pauses' jitter.
    :return: a Deferred firing with the connected protocol; failing with the
        first error ``retryable`` refuses, unchanged, or with
        :class:`~twisted_hvsock.errors.WaitTimeoutError` when the wait ends.
        Cancelling it stops the retries and cancels the attempt in flight.
    """
    return _Waiting(
        reactor,
        connect,
        factory,
        check_seconds(wait, "wait"),
        retryable,
        target,
        backoff,
        draw,
    ).start()


def connect_within(
    reactor: object,
    connect: Connect,
    factory: IProtocolFactory,
    *,
    wait: float | None,
    retryable: Retryable,
    target: str,
) -> defer.Deferred[IProtocol]:
    """
    What a client endpoint with a ``wait=`` option does: one attempt when
    ``wait`` is ``None``, else :func:`connect_waiting`.

    :param reactor: the endpoint's reactor, which every endpoint's
        documentation says provides ``IReactorTime``.
    """
    if wait is None:
        return connect(factory)
    clock = cast(IReactorTime, reactor)
    return connect_waiting(
        clock, connect, factory, wait=wait, retryable=retryable, target=target
    )


@implementer(IStreamClientEndpoint)
class WaitingClientEndpoint:
    """
    Connects through ``endpoint``, trying again while its attempts fail in
    ways ``retryable`` accepts, for up to ``wait`` seconds (see
    :func:`connect_waiting`).

    :param reactor: the clock the pauses and the wait are measured on.
    :param endpoint: a client endpoint whose ``connect`` makes one attempt,
        with a fresh socket each time.
    :param wait: seconds from the first attempt's start to giving up.
    :param retryable: whether a failed attempt means "not there yet".
    :param target: what is connected to, for the debug log and the error;
        by default the endpoint's ``repr``.
    :param backoff: the pauses between attempts.
    :param draw: the random source of the pauses' jitter.
    :raises ValueError: naming ``wait`` when it is out of range.
    """

    def __init__(
        self,
        reactor: IReactorTime,
        endpoint: IStreamClientEndpoint,
        wait: float,
        retryable: Retryable,
        *,
        target: str | None = None,
        backoff: Backoff = BACKOFF,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._reactor = reactor
        self._endpoint = endpoint
        self._wait = check_seconds(wait, "wait")
        self._retryable = retryable
        self._target = repr(endpoint) if target is None else target
        self._backoff = backoff
        self._draw = draw

    def __repr__(self) -> str:
        return f"<WaitingClientEndpoint {self._target} wait={self._wait:g}>"

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect, waiting for the other side as :func:`connect_waiting` does.
        """
        return connect_waiting(
            self._reactor,
            self._endpoint.connect,
            protocolFactory,
            wait=self._wait,
            retryable=self._retryable,
            target=self._target,
            backoff=self._backoff,
            draw=self._draw,
        )


@dataclass(eq=False)
class _Waiting:
    """One ``connect_waiting`` call: its attempts, pauses and deadline."""

    reactor: IReactorTime
    connect: Connect
    factory: IProtocolFactory
    wait: float
    retryable: Retryable
    target: str
    backoff: Backoff
    draw: Callable[[], float]
    attempts: int = 0
    started: float = 0.0
    last_error: BaseException | None = None
    done: bool = False
    in_flight: defer.Deferred[IProtocol] | None = None
    pausing: IDelayedCall | None = None
    deadline: IDelayedCall | None = None

    def __post_init__(self) -> None:
        self.result: defer.Deferred[IProtocol] = defer.Deferred(self._cancel)

    def start(self) -> defer.Deferred[IProtocol]:
        self.started = self.reactor.seconds()
        self.deadline = self.reactor.callLater(self.wait, self._wait_ended)
        self._attempt()
        return self.result

    def _attempt(self) -> None:
        self.pausing = None
        self.attempts += 1
        attempt = defer.maybeDeferred(self.connect, self.factory)
        # Set before the callbacks, which clear it: an attempt can fail at once.
        self.in_flight = attempt
        attempt.addCallbacks(self._connected, self._failed)

    def _connected(self, protocol: IProtocol) -> None:
        if self.done:
            # Cancelled or past the wait, yet the attempt connected: whoever
            # waited for it has gone.
            _close(protocol)
            return
        self.in_flight = None
        self._finish()
        self.result.callback(protocol)

    def _failed(self, reason: Failure) -> None:
        if self.done:
            return  # the attempt this call cancelled: nobody waits for it
        self.in_flight = None
        if not self.retryable(reason):
            self._finish()
            self.result.errback(reason)
            return
        self.last_error = reason.value
        left = self.started + self.wait - self.reactor.seconds()
        # The last attempt starts early enough to have a moment to connect,
        # and no pause is shorter than the backoff's shortest.
        pause = min(
            self.backoff.pause(self.attempts, self.draw), left - self.backoff.first
        )
        again = pause >= self.backoff.shortest
        _log.debug(
            "{target}: attempt {attempt} failed ({reason}); {next}",
            target=self.target,
            attempt=self.attempts,
            reason=reason.getErrorMessage(),
            next=f"trying again in {pause:.3f} seconds"
            if again
            else "no time is left for another",
        )
        if again:
            self.pausing = self.reactor.callLater(pause, self._attempt)

    def _wait_ended(self) -> None:
        self.deadline = None
        last = self.last_error
        if self.in_flight is not None or last is None:
            last = error.TimeoutError(  # type: ignore[no-untyped-call]
                string=f"attempt {self.attempts} was still connecting when the "
                "wait ended"
            )
        elapsed = self.reactor.seconds() - self.started
        self._finish()
        self.result.errback(WaitTimeoutError(self.target, elapsed, self.attempts, last))

    def _cancel(self, _: object) -> None:
        # Deferred.cancel fails the result with CancelledError after this.
        self._finish()

    def _finish(self) -> None:
        """Stop: no more attempts, pauses or deadline; cancel the one in flight."""
        self.done = True
        for call in (self.pausing, self.deadline):
            if call is not None and call.active():
                call.cancel()
        self.pausing = self.deadline = None
        in_flight, self.in_flight = self.in_flight, None
        if in_flight is not None:
            in_flight.cancel()


def _close(protocol: IProtocol) -> None:
    """Close the connection ``protocol`` was handed, at once."""
    transport = getattr(protocol, "transport", None)
    abort = getattr(transport, "abortConnection", None)
    if abort is not None:
        abort()
    elif transport is not None:
        transport.loseConnection()
