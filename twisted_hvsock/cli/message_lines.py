"""
``hvsock cat`` over a connection that keeps message boundaries
(``type=seqpacket``): each line of standard input is sent as one message,
without its newline, and each message received is printed followed by a
newline.

Lines, because a message carries no end-of-message byte of its own and a
terminal or a script writes and reads lines; a message with newlines inside
comes out as several lines, which this framing cannot tell apart. The
kernel sends no empty message, so an empty line sends nothing.
"""

from __future__ import annotations

from ..errors import MessageTooLongError
from ..interfaces import IMessageTransport
from ..relay import RelayProtocol

__all__ = ["LineSplitter", "LinesToMessages", "MessagesToLines"]


class LineSplitter:
    """Cuts a byte stream into its lines, without their newlines."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The lines that ``data`` completes, the empty ones too."""
        *lines, self._partial = (self._partial + data).split(b"\n")
        return lines

    def end(self) -> bytes:
        """What follows the last newline: a last line with no newline, or ``b""``."""
        partial, self._partial = self._partial, b""
        return partial


class LinesToMessages(RelayProtocol):
    """
    The standard input and output side of a message relay: each line it
    reads goes to its partner as one message (a last line with no newline
    too, at the end of input), and empty lines are dropped.

    ``too_long`` holds the error when a line was longer than a message can
    be; the connection is then aborted, since what follows would reach the
    peer without it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lines = LineSplitter()
        self.too_long: MessageTooLongError | None = None

    def dataReceived(self, data: bytes) -> None:
        self._send(self._lines.feed(data))

    def readConnectionLost(self) -> None:
        self._send([self._lines.end()])
        super().readConnectionLost()

    def join(self, partner: RelayProtocol) -> None:
        try:
            super().join(partner)  # sends the lines read before it
        except MessageTooLongError as e:
            self._give_up(e)

    def _send(self, lines: list[bytes]) -> None:
        for line in lines:
            if self.too_long is not None:
                return
            if not line:
                continue
            try:
                # Before the relay is joined, this keeps the line whole, as
                # one message to send once it is.
                super().dataReceived(line)
            except MessageTooLongError as e:
                self._give_up(e)

    def _give_up(self, too_long: MessageTooLongError) -> None:
        self.too_long = too_long
        if self.partner is not None:
            self.partner.transport.abortConnection()


class MessagesToLines(RelayProtocol):
    """
    The connection side of ``cat``'s relay: each message it receives goes to
    its partner followed by a newline when the transport keeps message
    boundaries, and as it is otherwise.

    Which one is decided once connected, from
    :class:`~twisted_hvsock.interfaces.IMessageTransport`.
    """

    messages = False

    def connectionMade(self) -> None:
        self.messages = IMessageTransport.providedBy(self.transport)
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data + b"\n" if self.messages else data)
