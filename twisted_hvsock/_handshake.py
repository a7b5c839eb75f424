"""
Connecting through a hypervisor's Unix socket that wants a header first:
send the header, optionally await the one line that answers it, then hand
the very same transport to the user's protocol.

Handing over means setting ``transport.protocol``: Twisted's own transports
and the thread-backed engine's look the protocol up on every event, so from
then on the user's protocol talks to the socket with nothing in between, and
half-close, producers, TLS and addresses behave as on any Unix connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from ._checks import IOEngine
from ._engines import engine
from ._not_ready import vmm_socket_not_ready
from ._options import IO, PORT, TIMEOUT, WAIT, Grammar, Option, path_option
from ._transport import IStreamTransport
from ._waiting import connect_within
from .tls import CLIENT_TLS

#: The longest answer line accepted, newline included: ``OK 4294967295\n`` is 14.
MAX_REPLY = 32

#: Checks an answer line (without its newline): ``None`` if it accepts the
#: connection, else what was wrong with it.
ReplyCheck = Callable[[bytes], str | None]

#: Connects a protocol factory, as an endpoint's ``connect`` does.
Connect = Callable[[IProtocolFactory], defer.Deferred[IProtocol]]


def connect_with_handshake(
    reactor: Any,
    connect: Connect,
    factory: IProtocolFactory,
    *,
    header: bytes,
    check_reply: ReplyCheck | None,
    timeout: float,
    peer: str,
) -> defer.Deferred[IProtocol]:
    """
    Connect with ``connect``, send ``header`` in one write and, if
    ``check_reply`` is given, wait up to ``timeout`` seconds for the answer
    line; then build ``factory``'s protocol on the connection.

    :param peer: how errors name the other side, e.g. ``"the VMM socket
        'v.sock'"``.
    :return: a Deferred firing with the user's protocol once the handshake
        succeeded; failing with ``ConnectionRefusedError`` when the peer
        closes before answering or answers anything but an accepted line,
        ``TimeoutError`` when it does not answer in time, or the error
        ``connect`` fails with. On failure the socket is closed.
    """
    return _Attempt(reactor, factory, header, check_reply, timeout, peer).start(connect)


class _Attempt:
    """One connection attempt: the connect, then the handshake."""

    def __init__(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        header: bytes,
        check_reply: ReplyCheck | None,
        timeout: float,
        peer: str,
    ) -> None:
        self.reactor = reactor
        self.factory = factory
        self.header = header
        self.check_reply = check_reply
        self.timeout = timeout
        self.peer = peer
        self.result: defer.Deferred[IProtocol] = defer.Deferred(self._cancel)
        self.handshake: _Handshake | None = None
        self.connecting: defer.Deferred[Any] | None = None

    def start(self, connect: Connect) -> defer.Deferred[IProtocol]:
        factory = Factory.forProtocol(lambda: _Handshake(self))
        self.connecting = connect(factory)
        self.connecting.addCallbacks(self._connected, self._connect_failed)
        return self.result

    def _connected(self, _: object) -> None:
        self.connecting = None

    def _connect_failed(self, reason: Failure) -> None:
        self.connecting = None
        if not self.result.called:
            self.result.errback(_naming(reason, self.peer))

    def _cancel(self, _: object) -> None:
        if self.handshake is not None and self.handshake.transport is not None:
            self.handshake.give_up()
        elif self.connecting is not None:
            self.connecting.cancel()


def _naming(reason: Failure, peer: str) -> Failure:
    """
    ``reason``, with ``peer`` named in it if it is a ``ConnectError``: the
    socket's own error (``2: No such file or directory``) does not say which
    file the connect tried. The error keeps its class, and its ``errno`` says
    what the socket said, for callers that tell errors apart.
    """
    failed = reason.value
    if not isinstance(failed, error.ConnectError):
        return reason
    said = failed.args[0] if failed.args and failed.args[0] else ""
    number = failed.osError if isinstance(failed.osError, int) else None
    if not said and failed.osError is not None and number is None:
        said = str(failed.osError)
    named = type(failed)(string=f"{peer}: {said}" if said else peer)
    named.errno = number  # type: ignore[attr-defined]
    return Failure(named)


class _Handshake(Protocol):
    """The protocol on the connection until the handshake is over."""

    transport: IStreamTransport

    def __init__(self, attempt: _Attempt) -> None:
        self.attempt = attempt
        self.buffer = b""
        self.done = False
        self.timer: IDelayedCall | None = None

    def connectionMade(self) -> None:
        attempt = self.attempt
        attempt.handshake = self
        self.transport.write(attempt.header)
        if attempt.check_reply is None:
            self.hand_over(b"")
        else:
            self.timer = attempt.reactor.callLater(attempt.timeout, self.timed_out)

    def dataReceived(self, data: bytes) -> None:
        if self.done:
            return
        self.buffer += data
        end = self.buffer.find(b"\n")
        # With its newline, the line is end + 1 bytes long, or longer than
        # the buffer if the newline has not come yet.
        if (end < 0 and len(self.buffer) >= MAX_REPLY) or end >= MAX_REPLY:
            self.refuse(f"answered with a line over {MAX_REPLY} bytes long")
            return
        if end < 0:
            return
        line, rest = self.buffer[:end], self.buffer[end + 1 :]
        assert self.attempt.check_reply is not None
        wrong = self.attempt.check_reply(line)
        if wrong is not None:
            self.refuse(f"answered {line!r}: {wrong}")
            return
        self.hand_over(rest)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.done:
            self.refuse("closed the connection without answering")

    def timed_out(self) -> None:
        self.timer = None
        self.fail(
            error.TimeoutError(
                string=f"{self.attempt.peer} did not answer within "
                f"{self.attempt.timeout:g} seconds"
            )
        )

    def refuse(self, what: str) -> None:
        self.fail(error.ConnectionRefusedError(string=f"{self.attempt.peer} {what}"))

    def give_up(self) -> None:
        """The caller cancelled: close; the Deferred fails with CancelledError."""
        self.finish()
        self.transport.abortConnection()

    def fail(self, reason: BaseException | Failure) -> None:
        self.finish()
        self.transport.abortConnection()
        self.attempt.result.errback(reason)

    def finish(self) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def hand_over(self, rest: bytes) -> None:
        """Give the transport, and whatever followed the answer, to the user."""
        self.finish()
        transport: Any = self.transport
        result = self.attempt.result
        try:
            protocol = self.attempt.factory.buildProtocol(transport.getPeer())
        except BaseException:
            transport.abortConnection()
            result.errback()
            return
        if protocol is None:
            transport.abortConnection()
            result.errback(error.NoProtocol())
            return
        transport.protocol = protocol
        try:
            protocol.makeConnection(transport)
        except BaseException:
            result.errback()
            raise  # and the transport closes, as for any protocol that raises
        result.callback(protocol)
        if rest and transport.connected and not transport.disconnecting:
            protocol.dataReceived(rest)


@dataclass(frozen=True)
class VMMSocket:
    """
    How a client reaches a guest's port through its VMM's Unix socket: the
    socket file, the header that names the port, the check of the answer
    (if the VMM sends one), how errors name the other side, and how long to
    keep trying while the VMM or the guest's port is not there yet.
    """

    reactor: Any
    path: str
    header: bytes
    check_reply: ReplyCheck | None
    peer: str
    timeout: float
    io: IOEngine
    wait: float | None

    def connect(self, factory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """Connect, once or, with a ``wait``, until the VMM lets us in."""
        return connect_within(
            self.reactor,
            self._attempt,
            factory,
            wait=self.wait,
            retryable=vmm_socket_not_ready,
            target=self.peer,
        )

    def _attempt(self, factory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        return connect_with_handshake(
            self.reactor,
            partial(
                engine(self.io).connect_unix,
                self.reactor,
                path=self.path,
                timeout=self.timeout,
            ),
            factory,
            header=self.header,
            check_reply=self.check_reply,
            timeout=self.timeout,
            peer=self.peer,
        )


def vmm_client_grammar(
    prefix: str,
    endpoint: Callable[..., IStreamClientEndpoint],
    path_form: str,
    *guest: Option[Any],
) -> Grammar:
    """
    The client string of a VMM-socket backend: where the VMM's socket is
    (``path_form`` in messages), the guest's port and any other ``guest``
    options that name the guest, the connect's options and TLS.
    """
    return Grammar(
        prefix,
        endpoint,
        (path_option(path_form), PORT, *guest, TIMEOUT, IO, WAIT),
        CLIENT_TLS,
    )
