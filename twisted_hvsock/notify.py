"""
Hearing a guest say it is ready: systemd's ``sd_notify`` messages over
vsock, as PID 1 sends them to the address in the ``vmm.notify_socket``
credential.

A message is ``KEY=VALUE`` lines (``READY=1``, ``STATUS=...``). Over
``type=seqpacket`` each message is one seqpacket message; over a stream it
is everything the sender writes before it shuts its side down. A
:class:`NotifyReceiver` listens on a server endpoint, hands every message to
a callback in arrival order, and fires :attr:`NotifyReceiver.ready` on the
first ``READY=1``. Malformed and oversized messages are logged and dropped;
the receiver keeps listening.

By default only peers sending from a reserved port (below 1024, as PID 1
does) are heard, and, given a CID, only that CID: the listener's factory
goes behind the same peer gate ``privileged=yes`` and ``allow=`` put up.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from twisted.internet import defer, error
from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IListeningPort,
    IProtocol,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ._engines import gated
from ._transport import IStreamTransport
from .address import VSockAddress, check_cid
from .allow import PeerAllowList
from .interfaces import IMessageTransport

__all__ = [
    "MAX_MESSAGE_SIZE",
    "NotifyMessage",
    "NotifyReceiver",
    "parse_notify_message",
]

#: The longest message heard, in bytes: systemd's own service manager and
#: systemd-vmspawn read at most this much (``NOTIFY_BUFFER_MAX``, which is
#: ``PIPE_BUF``, 4096 on Linux); a longer one is dropped.
MAX_MESSAGE_SIZE = 4096

_log = Logger()


def parse_notify_message(data: bytes) -> dict[str, str]:
    """
    The fields of one notify message, in the order they came.

    :param data: the message: UTF-8 ``KEY=VALUE`` lines separated by
        newlines; empty lines are skipped. A key given twice keeps its last
        value (at the place of its first).
    :raises ValueError: saying what is wrong: longer than
        :data:`MAX_MESSAGE_SIZE`, not UTF-8, empty, a line without ``=``, or
        an empty key.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise ValueError(
            f"{len(data)} bytes, longer than the {MAX_MESSAGE_SIZE} a message may be"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 (byte {e.start})") from None
    fields: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise ValueError(f"line {number} has no '=': {_shown(line)}")
        if not key:
            raise ValueError(f"line {number} has an empty key: {_shown(line)}")
        fields[key] = value
    if not fields:
        raise ValueError("no KEY=VALUE line in it")
    return fields


def _printable(text: str) -> str:
    # A value is printed on a terminal: control characters as escapes.
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _shown(text: str, limit: int = 60) -> str:
    text = _printable(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")


@dataclass(frozen=True)
class NotifyMessage:
    """
    One notify message and who sent it.

    :ivar peer: the sender's address (a
        :class:`~twisted_hvsock.address.VSockAddress` over vsock).
    :ivar fields: the ``KEY=VALUE`` lines, in the order they came (a key
        given twice holds its last value).
    """

    peer: IAddress
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    @property
    def cid(self) -> int | None:
        """The sender's CID, or ``None`` for a peer that is not vsock."""
        return self.peer.cid if isinstance(self.peer, VSockAddress) else None

    @property
    def ready(self) -> bool:
        """Whether the message says ``READY=1``."""
        return self.fields.get("READY") == "1"

    def __str__(self) -> str:
        # "cid 3: READY=1 STATUS='Startup finished'": a value quoted as a
        # POSIX shell would need it, so that the pairs stay apart.
        pairs = " ".join(
            f"{_printable(key)}={shlex.quote(_printable(value))}"
            for key, value in self.fields.items()
        )
        return f"{_sender(self.peer)}: {pairs}"


def _sender(peer: IAddress) -> str:
    """Who sent a message, in words: ``cid 3``, ``unix:/run/vmm.sock``."""
    if isinstance(peer, VSockAddress):
        return f"cid {peer.cid}"
    if isinstance(peer, UNIXAddress):
        # An accepted Unix socket's peer is usually unnamed.
        return f"unix:{os.fsdecode(peer.name)}" if peer.name else "a unix peer"
    return str(peer)


@implementer(IHalfCloseableProtocol)
class _NotifyProtocol(Protocol):
    """
    One connection's messages: each seqpacket message, or a stream's bytes
    up to the sender's shutdown of its side.
    """

    factory: NotifyReceiver
    transport: IStreamTransport

    def __init__(self, peer: IAddress) -> None:
        self.peer = peer
        self.buffer = bytearray()
        self.messages = False
        # A stream's one message was taken or dropped: ignore the rest.
        self.over = False

    def connectionMade(self) -> None:
        self.messages = IMessageTransport.providedBy(self.transport)

    def dataReceived(self, data: bytes) -> None:
        if self.messages:
            self.factory.heard(self.peer, data)
            return
        if self.over:
            return
        self.buffer += data
        if len(self.buffer) > MAX_MESSAGE_SIZE:
            # More than a message may be: drop it now rather than keep
            # reading what a sender might go on writing.
            self.over = True
            self.factory.dropped(
                self.peer,
                f"more than the {MAX_MESSAGE_SIZE} bytes a message may be",
            )
            self.buffer.clear()
            self.transport.abortConnection()

    def readConnectionLost(self) -> None:
        self._end()
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        """Nothing is ever written."""

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.messages or self.over or not self.buffer:
            return
        if reason is None or isinstance(reason.value, error.ConnectionDone):
            # A transport that cannot half-close ends this way instead.
            self._end()
        else:
            self.factory.dropped(self.peer, "cut short: the connection failed")

    def _end(self) -> None:
        if self.messages or self.over:
            return
        data, self.buffer = bytes(self.buffer), bytearray()
        self.over = True  # one message per stream connection
        self.factory.heard(self.peer, data)


class NotifyReceiver(Factory):
    """
    Hears notify messages on a server endpoint.

    :param cid: hear only this CID (with ``None``, any CID).
    :param any_port: hear senders from any source port too; by default only
        those sending from a reserved port (below 1024), as systemd's PID 1
        does, so that an unprivileged process in a guest cannot pass for it.
    :param on_message: called with each well-formed
        :class:`NotifyMessage`, in arrival order.
    :ivar ready: fires with the first message that says ``READY=1``.
    :raises ValueError: for a ``cid`` that is no single peer.
    """

    def __init__(
        self,
        *,
        cid: int | None = None,
        any_port: bool = False,
        on_message: Callable[[NotifyMessage], object] | None = None,
    ) -> None:
        self.cid = None if cid is None else check_cid(cid, allow_any=False)
        if not isinstance(any_port, bool):
            raise ValueError(f"any_port must be True or False, got {any_port!r}")
        self.any_port = any_port
        self._on_message = on_message
        self.ready: defer.Deferred[NotifyMessage] = defer.Deferred()

    def listen(self, endpoint: IStreamServerEndpoint) -> defer.Deferred[IListeningPort]:
        """
        Listen on ``endpoint`` (a ``type=seqpacket`` or stream one) behind
        the peer checks.

        :return: fires with the listening port.
        """
        allow = (
            None
            if self.cid is None
            else PeerAllowList(cid_ranges=((self.cid, self.cid),))
        )
        port: defer.Deferred[IListeningPort] = endpoint.listen(
            gated(self, allow, privileged=not self.any_port)
        )
        return port

    def buildProtocol(self, addr: IAddress) -> IProtocol:  # type: ignore[override]
        protocol = _NotifyProtocol(addr)
        protocol.factory = self
        return protocol

    def heard(self, peer: IAddress, data: bytes) -> None:
        """Take one message from ``peer``: hand it on, or drop it."""
        try:
            fields = parse_notify_message(data)
        except ValueError as e:
            self.dropped(peer, str(e))
            return
        message = NotifyMessage(peer, fields)
        if self._on_message is not None:
            self._on_message(message)
        if message.ready and not self.ready.called:
            self.ready.callback(message)

    def dropped(self, peer: IAddress, why: str) -> None:
        """Log that a message from ``peer`` was dropped, and why."""
        _log.warn("dropped a notify message from {peer}: {why}", peer=peer, why=why)
