"""
``hvsock cat``: relay stdin and stdout over one connection, like socat's
``-`` or ocaml-hvsock's hvcat.

The end of stdin half-closes the connection's write side, and the tool keeps
reading until the peer closes: no data in flight is dropped. Over a
connection that keeps message boundaries (``type=seqpacket``) it relays
lines as messages (:mod:`.message_lines`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, error
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.stdio import StandardIO
from twisted.python import usage
from twisted.python.failure import Failure

from .._not_ready import not_there_yet
from .._options import parse_positive_float
from .._sockets.hyperv import hyperv_backend
from .._waiting import WaitingClientEndpoint
from ..echo import echo_factory
from ..errors import WaitTimeoutError
from ..hyperv_services import register_service, registered_services
from ..relay import RelayProtocol, splice
from .addresses import connecting_endpoint, listening_endpoint, listening_line
from .command_options import CommandOptions
from .message_lines import LinesToMessages, MessagesToLines
from .messages import one_line


def _seconds(option: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        return parse_positive_float(text, option)

    return parse


class Options(CommandOptions):
    synopsis = "hvsock cat [-l] [--echo] [--wait SECONDS] ADDRESS"
    longdesc = """Relay stdin and stdout over a connection to ADDRESS (or, with -l,
from the first connection to ADDRESS). End of stdin half-closes the
connection; the tool then reads until the peer closes. Over a
type=seqpacket connection, each line of stdin is sent as one message
(without its newline; empty lines send nothing) and each message received
is printed on a line of its own.

ADDRESS is a Twisted endpoint string or a URI.

Examples:
  hvsock cat vsock:cid=3:port=5000          talk to port 5000 of guest 3
  hvsock cat vsock://2:5000 < request       from a guest, send a file to the host
  hvsock cat -l vsock:port=5000 > upload    receive one connection's data
  hvsock cat -l --echo vsock://:7           serve an echo service
  hvsock cat vsock:3:5000:type=seqpacket    one message per line, both ways
  hvsock cat --wait 60 vsock://3:5000       wait up to 60 s for the guest service
  hvsock cat --register hvsock://MyVM/5000  on a Windows host, register the
                                            service, then connect to the VM
"""
    optFlags = [
        ["listen", "l", "listen for one connection instead of connecting"],
        ["echo", None, "with -l: echo every connection, until interrupted"],
        [
            "register",
            None,
            "first register the hvsock service in the Windows host's registry "
            "(as Administrator)",
        ],
    ]
    optParameters = [
        [
            "wait",
            None,
            None,
            "keep trying to connect for up to SECONDS while nothing listens yet",
            _seconds("--wait"),
        ],
        [
            "retry",
            None,
            None,
            "the same as --wait (its older name)",
            _seconds("--retry"),
        ],
    ]

    def parseArgs(self, address: str) -> None:  # type: ignore[override]
        self["address"] = address

    def postOptions(self) -> None:
        if self["echo"] and not self["listen"]:
            raise usage.UsageError("--echo serves connections: use it with -l")
        if self["retry"] is not None:
            if self["wait"] is not None:
                raise usage.UsageError("--retry is --wait's older name: give one")
            self["wait"] = self["retry"]
        if self["wait"] is not None and self["listen"]:
            raise usage.UsageError("--wait is for connecting, not with -l")


def run(reactor: Any, options: Options) -> Deferred[int]:
    return ensureDeferred(_cat(reactor, options))


def _register(reactor: Any, options: Options) -> None:
    """``--register``: list the address's Hyper-V service in the registry."""
    from ..hyperv_endpoints import HyperVClientEndpoint, HyperVServerEndpoint

    build = listening_endpoint if options["listen"] else connecting_endpoint
    endpoint = build(reactor, options["address"])
    if not isinstance(endpoint, (HyperVServerEndpoint, HyperVClientEndpoint)):
        raise ValueError(
            f"--register is for Hyper-V addresses (hvsock:..., hvsock://...), "
            f"not {options['address']!r}"
        )
    if hyperv_backend() != "af_hyperv":
        print(
            "hvsock cat: --register: nothing to register here; services are "
            "registered on the Windows host",
            file=sys.stderr,
        )
        return
    registered = {service.service_id for service in registered_services()}
    if endpoint.service_id not in registered:  # keep a name given before
        register_service(endpoint.service_id, "hvsock cat")


async def _cat(reactor: Any, options: Options) -> int:
    if options["register"]:
        _register(reactor, options)
    if options["echo"]:
        listening = listening_endpoint(reactor, options["address"])
        port = await listening.listen(echo_factory())
        print(
            listening_line(port),
            file=sys.stderr,
            flush=True,
        )
        await Deferred()  # until interrupted
    if options["listen"]:
        connection = await _accept_one(reactor, options["address"])
    else:
        endpoint = connecting_endpoint(reactor, options["address"])
        connection = await _connect(
            reactor, endpoint, options["address"], options["wait"]
        )
    return await _relay_stdio(reactor, connection)


async def _relay_stdio(reactor: Any, connection: MessagesToLines) -> int:
    """
    Relay stdin and stdout over ``connection`` until both directions end.

    :return: the exit status: 1 if data was lost where ``cat`` can see it
        (standard output stopped taking data, or the connection ended with
        an error, a TLS stream cut short among them); a peer that drops what
        it was sent cannot be seen.
    """

    def give_up() -> None:
        # What the peer sends has nowhere to go: stop now, rather than wait
        # for a peer that may itself be waiting for us to read.
        if not connection.finished.called:
            connection.transport.abortConnection()

    stdio = LinesToMessages() if connection.messages else RelayProtocol()
    standard_io = _StandardIO(stdio, reactor, give_up)
    both = splice(connection, stdio)
    await connection.finished
    if standard_io.output_failure is None:
        # Standard input and output finish too; after a failed output they
        # may not (Twisted's stdio then never reports them lost).
        await both
    if standard_io.output_failure is not None:
        # Named first: it is also why the connection was stopped.
        print(
            "hvsock cat: standard output failed or was closed before all the "
            "data from the peer was written to it",
            file=sys.stderr,
        )
        return 1
    if isinstance(stdio, LinesToMessages) and stdio.too_long is not None:
        print(
            f"hvsock cat: a line of standard input: {stdio.too_long}", file=sys.stderr
        )
        return 1
    if connection.reason is not None and not connection.reason.check(
        error.ConnectionDone
    ):
        print(f"hvsock cat: {one_line(connection.reason)}", file=sys.stderr)
        return 1
    return 0


class _StandardIO(StandardIO):
    """
    Twisted's standard input and output, remembering that standard output
    ended other than cleanly (a write failed, or its reader went away):
    Twisted tells a half-closeable protocol only that it ended.
    """

    output_failure: Failure | None = None

    def __init__(
        self, protocol: RelayProtocol, reactor: Any, output_failed: Callable[[], None]
    ) -> None:
        self._output_failed = output_failed
        super().__init__(protocol, reactor=reactor)

    def childConnectionLost(self, fd: str, reason: Failure) -> None:
        # Called by the POSIX reader and writer; Windows' StandardIO (the one
        # mypy sees) has no such call, and never makes it.
        failed = fd == "write" and not reason.check(error.ConnectionDone)
        if failed and self.output_failure is None:
            self.output_failure = reason
            self._output_failed()
        super().childConnectionLost(fd, reason)  # type: ignore[misc]


class _FirstConnection(MessagesToLines):
    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.accepted.callback(self)


class _OneConnectionFactory(Factory):
    protocol = _FirstConnection

    def __init__(self) -> None:
        self.accepted: Deferred[MessagesToLines] = Deferred()

    def buildProtocol(self, addr: Any) -> Any:
        if self.accepted.called:
            return None  # one connection only; later ones are closed
        return super().buildProtocol(addr)


async def _accept_one(reactor: Any, address: str) -> MessagesToLines:
    factory = _OneConnectionFactory()
    port = await listening_endpoint(reactor, address).listen(factory)
    print(listening_line(port), file=sys.stderr, flush=True)
    connection = await factory.accepted
    await defer.maybeDeferred(port.stopListening)
    return connection


async def _connect(
    reactor: Any, endpoint: IStreamClientEndpoint, address: str, wait: float | None
) -> MessagesToLines:
    """
    Connect once, or, with ``--wait``, as a client string's ``wait=`` does:
    whatever the address, while the failure means that nothing is there
    yet.
    """
    if wait is not None:
        endpoint = WaitingClientEndpoint(
            reactor, endpoint, wait, not_there_yet, target=address
        )
    try:
        connection = await endpoint.connect(Factory.forProtocol(MessagesToLines))
    except error.ConnectError as e:
        if isinstance(e, WaitTimeoutError) or address in str(e):
            raise
        # Twisted's own clients (unix:, tcp:) do not say what they tried.
        raise CannotConnect(address, e) from e
    assert isinstance(connection, MessagesToLines)
    return connection


class CannotConnect(error.ConnectError):
    """A connect to ``address`` failed; the words name the address."""

    def __init__(self, address: str, reason: error.ConnectError) -> None:
        super().__init__(string=f"{address}: {one_line(reason)}")
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot connect to {self.args[0]}"
