"""
A streaming producer is paused once more than the transport's
``bufferSize`` bytes wait, once, and a pull producer never is: the rule both
engines' own transports share with Twisted's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from twisted_hvsock._engines._producers import pause_if_full


@implementer(IPushProducer)
@dataclass
class Producer:
    pauses: int = 0

    def pauseProducing(self) -> None:
        self.pauses += 1

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@dataclass
class Transport:
    producer: Producer | None = field(default_factory=Producer)
    streamingProducer: bool = True
    producerPaused: bool = False
    bufferSize: int = 100


def test_a_streaming_producer_is_paused_once_past_the_buffer() -> None:
    transport = Transport()
    assert not pause_if_full(transport, 100)
    assert pause_if_full(transport, 101)
    assert not pause_if_full(transport, 500)
    assert transport.producerPaused
    assert transport.producer is not None and transport.producer.pauses == 1


@pytest.mark.parametrize(
    "transport",
    [Transport(producer=None), Transport(streamingProducer=False)],
    ids=["no producer", "pull producer"],
)
def test_nothing_else_is_paused(transport: Transport) -> None:
    assert not pause_if_full(transport, 10_000)
    assert not transport.producerPaused
