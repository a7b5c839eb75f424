"""
``hvsock cat``: relay stdin and stdout over one connection, like socat's
``-`` or ocaml-hvsock's hvcat.

The end of stdin half-closes the connection's write side, and the tool keeps
reading until the peer closes: no data in flight is dropped.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import defer, error
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.stdio import StandardIO
from twisted.internet.task import deferLater
from twisted.python import usage

from .._sockets.hyperv import hyperv_backend
from ..echo import echo_factory
from ..hyperv_services import register_service, registered_services
from ..relay import RelayProtocol, splice
from .addresses import connecting_endpoint, listening_endpoint, listening_line
from .command_options import CommandOptions
from .messages import one_line

# How long to wait between connection attempts with --retry.
_FIRST_RETRY_DELAY = 0.1
_LONGEST_RETRY_DELAY = 1.0


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"--retry must be a positive number of seconds, got {text!r}")
    return seconds


class Options(CommandOptions):
    synopsis = "hvsock cat [-l] [--echo] [--retry SECONDS] ADDRESS"
    longdesc = """Relay stdin and stdout over a connection to ADDRESS (or, with -l,
from the first connection to ADDRESS). End of stdin half-closes the
connection; the tool then reads until the peer closes.

ADDRESS is a Twisted endpoint string or a URI.

Examples:
  hvsock cat vsock:cid=3:port=5000          talk to port 5000 of guest 3
  hvsock cat vsock://2:5000 < request       from a guest, send a file to the host
  hvsock cat -l vsock:port=5000 > upload    receive one connection's data
  hvsock cat -l --echo vsock://:7           serve an echo service
  hvsock cat --retry 60 vsock://3:5000      wait up to 60 s for the guest service
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
        ["retry", None, None, "keep trying to connect for up to SECONDS", _seconds],
    ]

    def parseArgs(self, address: str) -> None:  # type: ignore[override]
        self["address"] = address

    def postOptions(self) -> None:
        if self["echo"] and not self["listen"]:
            raise usage.UsageError("--echo serves connections: use it with -l")
        if self["retry"] is not None and self["listen"]:
            raise usage.UsageError("--retry is for connecting, not with -l")


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
        connection = await _connect(reactor, endpoint, options["retry"])
    stdio = RelayProtocol()
    StandardIO(stdio, reactor=reactor)
    await splice(connection, stdio)
    if connection.reason is not None and not connection.reason.check(
        error.ConnectionDone
    ):
        print(f"hvsock cat: {one_line(connection.reason)}", file=sys.stderr)
        return 1
    return 0


class _FirstConnection(RelayProtocol):
    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.accepted.callback(self)


class _OneConnectionFactory(Factory):
    protocol = _FirstConnection

    def __init__(self) -> None:
        self.accepted: Deferred[RelayProtocol] = Deferred()

    def buildProtocol(self, addr: Any) -> Any:
        if self.accepted.called:
            return None  # one connection only; later ones are closed
        return super().buildProtocol(addr)


async def _accept_one(reactor: Any, address: str) -> RelayProtocol:
    factory = _OneConnectionFactory()
    port = await listening_endpoint(reactor, address).listen(factory)
    print(listening_line(port), file=sys.stderr, flush=True)
    connection = await factory.accepted
    await defer.maybeDeferred(port.stopListening)
    return connection


class RetriesExhausted(error.ConnectError):
    """``--retry`` ran out of time: how long it tried, how often, and why."""

    def __init__(self, attempts: int, seconds: float, last: error.ConnectError):
        super().__init__()
        self.attempts = attempts
        self.seconds = seconds
        self.last = last

    def __str__(self) -> str:
        return (
            f"gave up after {self.attempts} "
            f"attempt{'s' if self.attempts != 1 else ''} in {self.seconds:.3g} s; "
            f"the last: {one_line(self.last)}"
        )


async def _connect(
    reactor: Any, endpoint: IStreamClientEndpoint, retry: float | None
) -> RelayProtocol:
    factory = Factory.forProtocol(RelayProtocol)
    started = reactor.seconds()
    deadline = None if retry is None else started + retry
    delay = _FIRST_RETRY_DELAY
    attempts = 0
    while True:
        attempts += 1
        try:
            connection = await endpoint.connect(factory)
            assert isinstance(connection, RelayProtocol)
            return connection
        except error.ConnectError as e:
            if deadline is None:
                raise
            left = deadline - reactor.seconds()
            if left <= 0:
                elapsed = reactor.seconds() - started
                raise RetriesExhausted(attempts, elapsed, e) from e
        # The last attempt comes at the deadline, not a backoff before it.
        await deferLater(reactor, min(delay, left))
        delay = min(delay * 2, _LONGEST_RETRY_DELAY)
