"""
What a connection's threads report, as its protocol is told it, on the
reactor thread: data while the protocol reads, a failed ``recv`` or
``send`` as the end of the connection (a message too long for the peer as
:class:`.MessageTooLongError`), and the peer's end of data as ``readConnectionLost`` to
an ``IHalfCloseableProtocol``, or otherwise, once the protocol is quiet
and all it wrote has reached the kernel (:mod:`..._end_when_quiet`), as
``connectionLost``.

That hold matters because the end of data can arrive in the same reactor
turn as the request before it: closing there would drop the answer the
protocol has just queued for the writer thread.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from twisted.internet import error
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.python.failure import Failure

from ..._end_when_quiet import EndWhenQuiet
from ...errors import MessageTooLongError
from .reader import DATA, EOF

if TYPE_CHECKING:
    from .transport import ThreadedTransport

__all__ = ["Delivery"]


class Delivery:
    """
    What ``transport``'s threads report, as its protocol is told it: a part
    of the transport, which it reads and closes only on the reactor thread.
    """

    def __init__(self, transport: ThreadedTransport) -> None:
        self._transport = transport
        self._end_when_quiet = EndWhenQuiet(
            transport.reactor, self._cannot_end_yet, self._end_peer_data
        )

    def deliver(self) -> None:
        """Hand the protocol what the reader received, while it may read."""
        transport = self._transport
        reader = transport._reader
        more = True
        while more and not (
            reader.paused or transport.disconnecting or transport._closing
        ):
            item = reader.take()
            if item is None:
                return
            kind, value, more = item
            if kind is DATA:
                transport._call(transport.protocol.dataReceived, value)
            elif kind is EOF:
                transport.readConnectionLost(Failure(error.ConnectionDone()))
            else:
                transport._close(Failure(error.ConnectionLost(str(value))))

    def write_failed(self, err: OSError, size: int) -> None:
        """The writer's ``send`` of ``size`` bytes failed: close, saying why."""
        transport = self._transport
        if transport._family.messages and err.errno == errno.ENOMEM:
            # The kernel's word for a message longer than the peer's buffer.
            too_long = MessageTooLongError(size, transport._limit, peer=True)
            transport._close(Failure(too_long))
            return
        transport._close(Failure(error.ConnectionLost(str(err))))

    def peer_ended(self) -> None:
        """The peer stopped sending: tell the protocol, now or once quiet."""
        transport = self._transport
        half = IHalfCloseableProtocol(transport.protocol, None)
        if half is None:
            if transport.producer is None and not self._cannot_end_yet():
                # Nothing is left to send, and nothing would write later.
                self._end_peer_data()
            else:
                self._end_when_quiet.start()
        else:
            transport._call(half.readConnectionLost)

    def wrote(self) -> None:
        """The protocol wrote: it is not quiet this turn."""
        self._end_when_quiet.wrote()

    def look_again(self) -> None:
        """What held a pending end back may have changed: look next turn."""
        self._end_when_quiet.look_again()

    def cancel(self) -> None:
        """The connection is gone."""
        self._end_when_quiet.cancel()

    def _cannot_end_yet(self) -> bool:
        transport = self._transport
        if transport._closing or transport.disconnecting:
            return True  # closing already, after what was written
        if transport._writer.unsent():
            transport._writer.ask_sent_notice()  # its notice looks again
            return True
        return transport._reader.paused or (
            transport.producer is not None and transport.producerPaused
        )

    def _end_peer_data(self) -> None:
        self._transport._close(Failure(error.ConnectionDone()))
