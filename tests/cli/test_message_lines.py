"""
``hvsock cat``'s framing over a connection that keeps message boundaries:
lines of standard input become messages, messages become lines.
"""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from zope.interface import alsoProvides

from twisted_hvsock.cli.message_lines import (
    LineSplitter,
    LinesToMessages,
    MessagesToLines,
)
from twisted_hvsock.errors import MessageTooLongError
from twisted_hvsock.interfaces import IMessageTransport
from twisted_hvsock.relay import RelayProtocol, splice


class _Messages(StringTransport):
    """A transport that keeps each write apart, as a seqpacket one sends it."""

    def __init__(self, limit: int = 1000) -> None:
        super().__init__()
        alsoProvides(self, IMessageTransport)
        self.messages: list[bytes] = []
        self.aborted = False
        self._limit = limit

    def write(self, data: bytes) -> None:
        if len(data) > self._limit:
            raise MessageTooLongError(len(data), self._limit)
        self.messages.append(data)

    def abortConnection(self) -> None:
        self.aborted = True


def _relay(
    connection_transport: StringTransport,
) -> tuple[LinesToMessages, MessagesToLines, StringTransport]:
    """A stdio side and a connection side, connected and spliced."""
    stdio, connection = LinesToMessages(), MessagesToLines()
    stdout = StringTransport()
    stdio.makeConnection(stdout)
    connection.makeConnection(connection_transport)
    splice(connection, stdio)
    return stdio, connection, stdout


def test_splitter_gives_each_line_without_its_newline() -> None:
    lines = LineSplitter()
    assert lines.feed(b"one\ntw") == [b"one"]
    assert lines.feed(b"o\n\nthree") == [b"two", b""]
    assert lines.end() == b"three"
    assert lines.end() == b""


def test_each_line_is_sent_as_one_message() -> None:
    transport = _Messages()
    stdio, _, _ = _relay(transport)
    stdio.dataReceived(b"first line\nsec")
    stdio.dataReceived(b"ond\nthird\n")
    assert transport.messages == [b"first line", b"second", b"third"]


def test_empty_lines_send_nothing() -> None:
    transport = _Messages()
    stdio, _, _ = _relay(transport)
    stdio.dataReceived(b"\n\na\n\nb\n")
    assert transport.messages == [b"a", b"b"]


def test_a_last_line_without_newline_is_sent_at_end_of_input() -> None:
    transport = _Messages()
    stdio, _, _ = _relay(transport)
    stdio.dataReceived(b"a\nlast")
    assert transport.messages == [b"a"]
    stdio.readConnectionLost()
    assert transport.messages == [b"a", b"last"]


def test_lines_read_before_the_connection_is_joined_stay_whole() -> None:
    stdio, connection = LinesToMessages(), MessagesToLines()
    stdio.makeConnection(StringTransport())
    stdio.dataReceived(b"early one\nearly two\nhalf")
    transport = _Messages()
    connection.makeConnection(transport)
    splice(connection, stdio)
    assert transport.messages == [b"early one", b"early two"]


def test_each_message_received_is_printed_on_a_line_of_its_own() -> None:
    _, connection, stdout = _relay(_Messages())
    connection.dataReceived(b"one")
    connection.dataReceived(b"two\nlines")
    assert stdout.value() == b"one\ntwo\nlines\n"


def test_a_stream_connection_is_relayed_as_it_is() -> None:
    connection, stdio = MessagesToLines(), RelayProtocol()
    stdout = StringTransport()
    stdio.makeConnection(stdout)
    connection.makeConnection(StringTransport())
    splice(connection, stdio)
    assert not connection.messages
    connection.dataReceived(b"no newline added")
    assert stdout.value() == b"no newline added"


def test_a_line_too_long_for_a_message_aborts_and_says_so() -> None:
    transport = _Messages(limit=10)
    stdio, _, _ = _relay(transport)
    stdio.dataReceived(b"short\n" + b"x" * 11 + b"\nafter\n")
    assert transport.messages == [b"short"]
    assert transport.aborted
    assert stdio.too_long is not None
    assert "11-byte message" in str(stdio.too_long)


def test_a_line_too_long_read_before_the_join_aborts_and_says_so() -> None:
    stdio, connection = LinesToMessages(), MessagesToLines()
    stdio.makeConnection(StringTransport())
    stdio.dataReceived(b"x" * 11 + b"\n")
    transport = _Messages(limit=10)
    connection.makeConnection(transport)
    splice(connection, stdio)
    assert transport.aborted
    assert stdio.too_long is not None
