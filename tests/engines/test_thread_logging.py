"""
The threads engine logs through ``twisted.logger``, under its own module
namespaces, so an application's observer (and ``hvsock -q``/``-v``) sees and
filters its events like any others, and a protocol's failure is logged as a
failure rather than as a legacy ``[-]`` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    globalLogPublisher,
)
from zope.interface import provider

from ..support.families import Family

NAMESPACE = "twisted_hvsock._engines.threads"


class BrokenReceiver(Protocol):
    """A protocol whose ``dataReceived`` raises, as a buggy application's might."""

    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        raise RuntimeError("the application's bug")

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)


class SendsOnce(Protocol):
    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"hello")  # type: ignore[union-attr]

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)


@pytest.fixture
def events() -> Iterator[list[LogEvent]]:
    """Every event the threads engine logs while the test runs."""
    seen: list[LogEvent] = []

    @provider(ILogObserver)
    def observe(event: LogEvent) -> None:
        if event.get("log_namespace", "").startswith(NAMESPACE):
            seen.append(event)

    globalLogPublisher.addObserver(observe)
    yield seen
    globalLogPublisher.removeObserver(observe)


@pytest_twisted.ensureDeferred
async def test_listening_and_closing_are_info_events_naming_the_address(
    family: Family,
    events: list[LogEvent],
) -> None:
    port = await family.server().listen(Factory.forProtocol(Protocol))
    address = port.getHost()
    await port.stopListening()
    texts = [
        (event["log_namespace"], event["log_level"], formatEvent(event))
        for event in events
    ]
    port_namespace = f"{NAMESPACE}.port"
    assert (port_namespace, LogLevel.info, f"Factory starting on {address}") in texts
    assert any(
        namespace == port_namespace
        and level == LogLevel.info
        and text.endswith(f"port {address} closed)")
        for namespace, level, text in texts
    ), texts


@pytest_twisted.ensureDeferred
async def test_a_protocol_that_raises_is_logged_as_a_failure_and_disconnected(
    family: Family,
    events: list[LogEvent],
) -> None:
    server = BrokenReceiver()
    port = await family.server().listen(Factory.forProtocol(lambda: server))
    try:
        client = SendsOnce()
        await family.client(port).connect(Factory.forProtocol(lambda: client))
        await server.lost
        await client.lost
    finally:
        await port.stopListening()
    failures = [event for event in events if "log_failure" in event]
    assert len(failures) == 1, failures
    assert failures[0]["log_namespace"] == f"{NAMESPACE}.transport"
    assert failures[0]["log_level"] == LogLevel.critical
    assert failures[0]["log_failure"].check(RuntimeError)
