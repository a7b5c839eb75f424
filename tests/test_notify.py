"""
systemd's notify messages: parsing, the receiver over fake transports and
real Unix sockets on the host, and, in the guest, a sender that behaves as
PID 1 does (one message per connection, from a reserved port) over
seqpacket and over a stream.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, error, reactor
from twisted.internet.address import UNIXAddress
from twisted.internet.endpoints import UNIXServerEndpoint
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.testing import StringTransport
from twisted.internet.threads import deferToThread
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface import directlyProvides

from twisted_hvsock.address import VSockAddress
from twisted_hvsock.interfaces import IMessageTransport
from twisted_hvsock.notify import (
    MAX_MESSAGE_SIZE,
    NotifyMessage,
    NotifyReceiver,
    parse_notify_message,
)
from twisted_hvsock.vsock import VSockServerEndpoint

from .support.notify_sender import KINDS, send_as_pid1
from .support.vsock import CID_LOCAL

PEER = VSockAddress(3, 1000)


# Parsing


def test_a_message_is_its_lines_in_order() -> None:
    fields = parse_notify_message(b"READY=1\nSTATUS=Startup finished\n")
    assert list(fields.items()) == [("READY", "1"), ("STATUS", "Startup finished")]


def test_empty_lines_are_skipped_and_a_value_may_hold_equals_or_be_empty() -> None:
    fields = parse_notify_message(b"\nA=b=c\n\nEMPTY=\n")
    assert fields == {"A": "b=c", "EMPTY": ""}


def test_a_key_given_twice_keeps_its_last_value_at_its_first_place() -> None:
    fields = parse_notify_message(b"STATUS=one\nREADY=1\nSTATUS=two")
    assert list(fields.items()) == [("STATUS", "two"), ("READY", "1")]


def test_a_message_of_the_longest_size_is_taken() -> None:
    data = b"X=" + b"a" * (MAX_MESSAGE_SIZE - 2)
    assert len(parse_notify_message(data)["X"]) == MAX_MESSAGE_SIZE - 2


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"READY=1\ngarbage\n", r"^line 2 has no '=': 'garbage'$"),
        (b"=1\n", r"^line 1 has an empty key"),
        (b"STATUS=\xff\n", r"^not UTF-8 \(byte 7\)$"),
        (b"\n\n", r"^no KEY=VALUE line in it$"),
        (b"", r"^no KEY=VALUE line in it$"),
        (b"X=" + b"a" * (MAX_MESSAGE_SIZE - 1), r"^4097 bytes, longer than the 4096"),
    ],
)
def test_a_malformed_or_oversized_message_is_a_value_error_saying_why(
    data: bytes, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        parse_notify_message(data)


def test_a_message_prints_as_cid_and_pairs_quoted_as_a_shell_needs() -> None:
    message = NotifyMessage(PEER, {"READY": "1", "STATUS": "Startup finished"})
    assert str(message) == "cid 3: READY=1 STATUS='Startup finished'"
    assert (message.cid, message.ready) == (3, True)


def test_control_characters_print_as_escapes() -> None:
    message = NotifyMessage(PEER, {"STATUS": "a\x1b[2Jb"})
    assert str(message) == "cid 3: STATUS='a\\x1b[2Jb'"


def test_a_peer_that_is_not_vsock_prints_as_its_address_and_has_no_cid() -> None:
    message = NotifyMessage(UNIXAddress(b"/run/n.sock"), {"READY": "0"})
    assert message.cid is None
    assert not message.ready
    assert str(message) == "unix:/run/n.sock: READY=0"
    assert str(NotifyMessage(UNIXAddress(None), {"A": "b"})) == "a unix peer: A=b"


def test_a_message_s_fields_cannot_be_changed() -> None:
    message = NotifyMessage(PEER, {"READY": "1"})
    with pytest.raises(TypeError):
        message.fields["READY"] = "0"  # type: ignore[index]


# The receiver, over fake transports


@pytest.fixture(name="drops")
def drops_fixture() -> Iterator[list[LogEvent]]:
    """The dropped messages logged while the test runs."""
    events: list[LogEvent] = []

    def observe(event: LogEvent) -> None:
        if "dropped a notify message" in str(event.get("log_format", "")):
            events.append(event)

    globalLogPublisher.addObserver(observe)
    yield events
    globalLogPublisher.removeObserver(observe)


class Heard:
    """A receiver and the messages it handed on."""

    def __init__(self, **kwargs: Any) -> None:
        self.messages: list[NotifyMessage] = []
        self.receiver = NotifyReceiver(on_message=self.messages.append, **kwargs)

    def lines(self) -> list[str]:
        return [str(message) for message in self.messages]

    def connect(self, *, messages: bool) -> tuple[Any, StringTransport]:
        protocol = self.receiver.buildProtocol(PEER)
        transport = StringTransport(peerAddress=PEER)
        if messages:
            directlyProvides(transport, IMessageTransport)
        protocol.makeConnection(transport)
        return protocol, transport


def test_over_a_stream_a_message_is_everything_up_to_the_sender_s_shutdown() -> None:
    heard = Heard()
    protocol, transport = heard.connect(messages=False)
    protocol.dataReceived(b"READY=1\nSTA")
    protocol.dataReceived(b"TUS=up\n")
    assert heard.messages == []  # not before the end of the stream
    protocol.readConnectionLost()
    assert heard.lines() == ["cid 3: READY=1 STATUS=up"]
    assert transport.disconnecting  # and the receiver closes its side
    assert heard.receiver.ready.called


def test_over_seqpacket_each_message_is_one_notify_message() -> None:
    heard = Heard()
    protocol, _ = heard.connect(messages=True)
    protocol.dataReceived(b"STATUS=booting")
    protocol.dataReceived(b"READY=1\nSTATUS=up")
    protocol.readConnectionLost()
    assert heard.lines() == ["cid 3: STATUS=booting", "cid 3: READY=1 STATUS=up"]


def test_a_stream_that_ends_without_half_close_still_gives_its_message() -> None:
    heard = Heard()
    protocol, _ = heard.connect(messages=False)
    protocol.dataReceived(b"READY=1")
    protocol.connectionLost(Failure(error.ConnectionDone()))
    assert heard.lines() == ["cid 3: READY=1"]


def test_a_stream_cut_short_is_dropped_and_logged(drops: list[LogEvent]) -> None:
    heard = Heard()
    protocol, _ = heard.connect(messages=False)
    protocol.dataReceived(b"READY=1")
    protocol.connectionLost(Failure(error.ConnectionLost()))
    assert heard.messages == []
    assert [event["why"] for event in drops] == ["cut short: the connection failed"]


def test_an_oversized_stream_is_dropped_at_once_and_the_connection_aborted(
    drops: list[LogEvent],
) -> None:
    heard = Heard()
    protocol, transport = heard.connect(messages=False)
    protocol.dataReceived(b"X=" + b"a" * MAX_MESSAGE_SIZE)
    assert transport.disconnected  # StringTransport's mark of an abort
    protocol.dataReceived(b"\nREADY=1")  # what was already on its way
    protocol.readConnectionLost()
    protocol.connectionLost(Failure(error.ConnectionAborted()))
    assert heard.messages == []
    assert [event["why"] for event in drops] == [
        "more than the 4096 bytes a message may be"
    ]


def test_malformed_and_oversized_messages_are_dropped_and_the_receiver_goes_on(
    drops: list[LogEvent],
) -> None:
    heard = Heard()
    protocol, _ = heard.connect(messages=True)
    for data in (b"garbage", b"STATUS=\xff", b"X=" + b"a" * MAX_MESSAGE_SIZE):
        protocol.dataReceived(data)
    protocol.dataReceived(b"READY=1")
    assert heard.lines() == ["cid 3: READY=1"]
    assert [event["why"] for event in drops] == [
        "line 1 has no '=': 'garbage'",
        "not UTF-8 (byte 7)",
        "4098 bytes, longer than the 4096 a message may be",
    ]
    assert [event["peer"] for event in drops] == [PEER] * 3


def test_ready_fires_once_with_the_first_ready_message() -> None:
    heard = Heard()
    protocol, _ = heard.connect(messages=True)
    protocol.dataReceived(b"READY=0")
    assert not heard.receiver.ready.called
    protocol.dataReceived(b"READY=1\nSTATUS=first")
    protocol.dataReceived(b"READY=1\nSTATUS=second")
    ready: list[NotifyMessage] = []
    heard.receiver.ready.addCallback(ready.append)
    assert [message.fields["STATUS"] for message in ready] == ["first"]
    assert len(heard.messages) == 3


# Peer checks


class CapturingEndpoint:
    """A server endpoint that keeps the factory it was asked to listen with."""

    factory: IProtocolFactory

    def listen(self, factory: IProtocolFactory) -> defer.Deferred[Any]:
        self.factory = factory
        return defer.succeed(None)


def _gate_of(receiver: NotifyReceiver) -> IProtocolFactory:
    endpoint = CapturingEndpoint()
    receiver.listen(endpoint)
    return endpoint.factory


def test_by_default_only_senders_on_a_reserved_port_are_heard() -> None:
    gate = _gate_of(NotifyReceiver())
    assert gate.buildProtocol(VSockAddress(3, 1023)) is not None
    assert gate.buildProtocol(VSockAddress(3, 1024)) is None
    assert gate.buildProtocol(UNIXAddress(None)) is None


def test_with_a_cid_only_that_cid_is_heard() -> None:
    gate = _gate_of(NotifyReceiver(cid=3))
    assert gate.buildProtocol(VSockAddress(3, 1000)) is not None
    assert gate.buildProtocol(VSockAddress(4, 1000)) is None
    assert gate.buildProtocol(VSockAddress(3, 5000)) is None


def test_any_port_hears_every_sender_of_that_cid() -> None:
    gate = _gate_of(NotifyReceiver(cid=3, any_port=True))
    assert gate.buildProtocol(VSockAddress(3, 5000)) is not None
    assert gate.buildProtocol(VSockAddress(4, 5000)) is None
    assert (
        _gate_of(NotifyReceiver(any_port=True)).buildProtocol(UNIXAddress(None))
        is not None
    )


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"cid": -1}, "^cid must be"),
        ({"cid": 0xFFFFFFFF}, "^cid must be"),
        ({"any_port": "yes"}, "^any_port must be True or False"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(
    kwargs: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        NotifyReceiver(**kwargs)


# Real Unix sockets on the host: a stream with a shutdown after writing


def _send_stream_unix(path: str, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sender:
        sender.settimeout(60)  # a hang guard
        sender.connect(path)
        sender.sendall(data)
        sender.shutdown(socket.SHUT_WR)
        return sender.recv(1)  # the receiver closes once it has the message


@pytest_twisted.ensureDeferred
async def test_a_unix_stream_message_ends_with_the_sender_s_shutdown(
    sockdir: str,
) -> None:
    path = os.path.join(sockdir, "notify")
    heard = Heard(any_port=True)
    port = await heard.receiver.listen(UNIXServerEndpoint(reactor, path))
    try:
        for data in (b"STATUS=booting\n", b"READY=1\nSTATUS=up\n"):
            assert await deferToThread(_send_stream_unix, path, data) == b""
        ready = await heard.receiver.ready
    finally:
        await port.stopListening()
    assert heard.lines()[0].endswith(": STATUS=booting")
    assert heard.lines()[1].endswith(": READY=1 STATUS=up")
    assert ready is heard.messages[1]


# In the guest: a sender that behaves as PID 1 does

kernel = pytest.mark.kernel


@pytest.fixture(name="kind", params=list(KINDS))
def kind_fixture(request: pytest.FixtureRequest) -> str:
    """Each socket type PID 1 may send over."""
    kind: str = request.param
    return kind


async def _listening(heard: Heard, io: str, kind: str) -> Any:
    endpoint = VSockServerEndpoint(reactor, 0, io=io, type=kind)  # type: ignore[arg-type]
    port = await heard.receiver.listen(endpoint)
    return port


@kernel
@pytest_twisted.ensureDeferred
async def test_the_ready_message_of_a_pid1_like_sender_fires_ready_with_its_cid(
    io: str, kind: str
) -> None:
    heard = Heard(cid=CID_LOCAL)
    port = await _listening(heard, io, kind)
    try:
        number = port.getHost().port
        for data in (b"STATUS=booting", b"READY=1\nSTATUS=up"):
            await deferToThread(send_as_pid1, number, data, kind)
        ready = await heard.receiver.ready
    finally:
        await port.stopListening()
    assert ready.cid == CID_LOCAL
    assert heard.lines() == ["cid 1: STATUS=booting", "cid 1: READY=1 STATUS=up"]


@kernel
@pytest_twisted.ensureDeferred
async def test_a_sender_on_an_unprivileged_port_is_refused_by_default(
    kind: str,
) -> None:
    heard = Heard()
    port = await _listening(heard, "reactor", kind)
    try:
        number = port.getHost().port
        await deferToThread(send_as_pid1, number, b"READY=1", kind, 5000)
        assert heard.messages == []
        await deferToThread(send_as_pid1, number, b"READY=1\nSTATUS=root", kind)
        await heard.receiver.ready
    finally:
        await port.stopListening()
    assert heard.lines() == ["cid 1: READY=1 STATUS=root"]
    assert port.factory.refused == 1


@kernel
@pytest_twisted.ensureDeferred
async def test_malformed_and_oversized_messages_are_dropped_in_the_guest(
    kind: str, drops: list[LogEvent]
) -> None:
    heard = Heard()
    port = await _listening(heard, "reactor", kind)
    try:
        number = port.getHost().port
        for data in (b"garbage", b"X=" + b"a" * MAX_MESSAGE_SIZE, b"READY=1"):
            await deferToThread(send_as_pid1, number, data, kind)
        await heard.receiver.ready
    finally:
        await port.stopListening()
    assert heard.lines() == ["cid 1: READY=1"]
    assert len(drops) == 2
    assert drops[0]["why"] == "line 1 has no '=': 'garbage'"


def test_the_docs_host_script_is_valid_bash() -> None:
    # It boots a VM, which no test here can; its syntax at least cannot rot.
    script = Path(__file__).resolve().parents[1] / "docs/examples/boot_and_wait.sh"
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "vmm.notify_socket=vsock:2:" in script.read_text()
