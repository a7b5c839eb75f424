"""
Back-pressure as Twisted's transports apply it, for the transports both
engines write themselves (the thread engine's, and the reactor engine's
message transport): a streaming producer is paused once more than the
transport's ``bufferSize`` bytes wait to be sent.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.interfaces import IPushProducer


def pause_if_full(transport: Any, unsent: int) -> bool:
    """
    Pause ``transport``'s streaming producer if ``unsent`` bytes are more
    than its ``bufferSize`` and it is not paused yet.

    :param transport: a transport with Twisted's producer attributes
        (``producer``, ``streamingProducer``, ``producerPaused``,
        ``bufferSize``).
    :return: whether it paused the producer now.
    """
    if (
        transport.producer is None
        or not transport.streamingProducer
        or unsent <= transport.bufferSize
        or transport.producerPaused
    ):
        return False
    transport.producerPaused = True
    cast(IPushProducer, transport.producer).pauseProducing()
    return True
