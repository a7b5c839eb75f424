"""
``hvsock stress``: open many connections, a few at a time, send each one
random data in random-sized writes, half-close, and check that what comes
back is what was sent; or be the echo server those connections talk to.

Size parsing and the per-connection protocol work without sockets, and so
do the results (:mod:`.stress_results`), so they are tested alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IPushProducer,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python import usage
from twisted.python.failure import Failure
from zope.interface import implementer

from .._transport import IStreamTransport
from ..echo import echo_factory
from .addresses import connecting_endpoint, listening_endpoint, listening_line
from .command_options import CommandOptions
from .messages import one_line
from .stress_progress import Progress
from .stress_results import (
    ERROR,
    MISMATCH,
    OK,
    ConnectionResult,
    Summary,
    summarize,
)
from .terminal import columns_of, fit

__all__ = [
    "ClientSettings",
    "Options",
    "StressClient",
    "StressRun",
    "parse_size",
    "run",
]

DEFAULT_CONNECTIONS = 100
DEFAULT_PARALLEL = 10
DEFAULT_LENGTH = 64 * 1024
DEFAULT_CHUNK = 4 * 1024

_SIZE = re.compile(r"(?P<number>\d+)(?:(?P<prefix>[kmg])(?:i?b)?|b)?", re.IGNORECASE)
_MULTIPLIERS = {None: 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """
    A byte count: a whole number, optionally followed by ``K``, ``M`` or
    ``G`` (powers of 1024; ``KB``, ``KiB`` and lower case are accepted too).

    :raises ValueError: for anything else.
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected a byte count such as 4096, 64K or 1M; got {text!r}")
    prefix = match["prefix"]
    return int(match["number"]) * _MULTIPLIERS[prefix.lower() if prefix else None]


@implementer(IHalfCloseableProtocol, IPushProducer)
class StressClient(Protocol):
    """
    Sends ``length`` random bytes in random writes of 1 to ``max_chunk``
    bytes, only while the transport asks for more; then half-closes, reads
    until the peer's EOF, and closes.

    Sizes and data come from ``rng``, so a seed reproduces them. Only the
    sha256 of each direction is kept, never the data.

    :ivar finished: fires with ``(outcome, error)`` when the connection is
        gone: ``("ok", None)``, ``("MISMATCH", None)`` or ``("error", why)``.
    """

    transport: IStreamTransport

    def __init__(self, length: int, max_chunk: int, rng: random.Random) -> None:
        self.length = length
        self.max_chunk = max_chunk
        self.rng = rng
        self.sent = 0
        self.received = 0
        self.finished: defer.Deferred[tuple[str, str | None]] = defer.Deferred()
        self._sent_digest = hashlib.sha256()
        self._received_digest = hashlib.sha256()
        self._paused = False
        self._sending = True
        self._aborted: str | None = None

    def connectionMade(self) -> None:
        self.transport.registerProducer(self, True)
        self.resumeProducing()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        while self._sending and not self._paused and self.sent < self.length:
            size = min(self.rng.randint(1, self.max_chunk), self.length - self.sent)
            chunk = self.rng.randbytes(size)
            self._sent_digest.update(chunk)
            self.sent += size
            self.transport.write(chunk)
        if self._sending and self.sent >= self.length:
            self._sending = False
            self.transport.unregisterProducer()
            self.transport.loseWriteConnection()

    def stopProducing(self) -> None:
        self._sending = False

    def dataReceived(self, data: bytes) -> None:
        self._received_digest.update(data)
        self.received += len(data)

    def readConnectionLost(self) -> None:
        if self._sending:
            # The peer stopped before we did: what is left is never sent,
            # and the connection ends as a mismatch.
            self._sending = False
            self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass

    def abort(self, why: str) -> None:
        """Drop the connection now; it ends as an error saying ``why``."""
        self._aborted = why
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._aborted is not None:
            outcome: tuple[str, str | None] = (ERROR, self._aborted)
        elif not reason.check(error.ConnectionDone):
            outcome = (ERROR, one_line(reason))
        elif (
            self.received == self.sent == self.length
            and self._received_digest.digest() == self._sent_digest.digest()
        ):
            outcome = (OK, None)
        else:
            outcome = (MISMATCH, None)
        self.finished.callback(outcome)


class StressRun:
    """
    Opens ``connections`` connections to ``endpoint``, ``parallel`` at a
    time, each a :class:`StressClient`.

    :param seed: with the connection's index, seeds that connection's sizes
        and data, so a run is reproducible whatever order connections end in.
    :param timeout: seconds after which a connection still going is dropped
        and counted as an error; ``None`` for no limit.
    :param report: called with each connection's result as it ends.
    :param now: the clock that times connections and the whole run.
    """

    def __init__(
        self,
        reactor: Any,
        endpoint: IStreamClientEndpoint,
        *,
        connections: int,
        parallel: int,
        max_length: int,
        max_chunk: int,
        seed: int,
        timeout: float | None = None,
        report: Callable[[ConnectionResult], None] = lambda result: None,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.reactor = reactor
        self.endpoint = endpoint
        self.connections = connections
        self.parallel = parallel
        self.max_length = max_length
        self.max_chunk = max_chunk
        self.seed = seed
        self.timeout = timeout
        self.report = report
        self.now = now
        self.results: list[ConnectionResult] = []
        self._next_index = 1
        self._active: set[StressClient] = set()

    def status(self) -> tuple[int, int]:
        """Connections finished, and bytes moved both ways so far."""
        moved = sum(r.bytes_sent + r.bytes_received for r in self.results)
        moved += sum(p.sent + p.received for p in self._active)
        return len(self.results), moved

    async def run(self) -> Summary:
        started = self.now()
        workers = min(self.parallel, self.connections)
        await defer.gatherResults(
            [defer.ensureDeferred(self._worker()) for _ in range(workers)],
            consumeErrors=True,
        )
        return summarize(self.results, self.parallel, self.now() - started, self.seed)

    async def _worker(self) -> None:
        while self._next_index <= self.connections:
            index = self._next_index
            self._next_index += 1
            result = await self._connection(index)
            self.results.append(result)
            self.report(result)

    async def _connection(self, index: int) -> ConnectionResult:
        rng = random.Random(f"{self.seed}:{index}")
        protocol = StressClient(rng.randint(0, self.max_length), self.max_chunk, rng)
        started = self.now()
        timed_out: list[str] = []
        connecting = self.endpoint.connect(Factory.forProtocol(lambda: protocol))

        def expire() -> None:
            timed_out.append(f"timed out after {self.timeout:g} s")
            if protocol.transport is None:
                connecting.cancel()
            else:
                protocol.abort(timed_out[0])

        timer = None
        if self.timeout is not None:
            timer = self.reactor.callLater(self.timeout, expire)
        outcome: tuple[str, str | None]
        try:
            await connecting
        except Exception as e:
            outcome = (ERROR, timed_out[0] if timed_out else one_line(Failure(e)))
        else:
            self._active.add(protocol)
            outcome = await protocol.finished
            self._active.discard(protocol)
        if timer is not None and timer.active():
            timer.cancel()
        kind, why = outcome
        return ConnectionResult(
            index, protocol.sent, protocol.received, self.now() - started, kind, why
        )


def _positive(name: str, text: str, convert: Callable[[str], Any]) -> Any:
    try:
        value = convert(text)
    except ValueError as e:
        raise usage.UsageError(f"{name}: {e}") from None
    if not value > 0:
        raise usage.UsageError(f"{name} must be positive, got {text!r}")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number of seconds, got {text!r}")
    return value


@dataclass(frozen=True)
class ClientSettings:
    """What ``-c`` does, from the command line."""

    connections: int = DEFAULT_CONNECTIONS
    parallel: int = DEFAULT_PARALLEL
    max_length: int = DEFAULT_LENGTH
    max_chunk: int = DEFAULT_CHUNK
    seed: int | None = None
    timeout: float | None = None
    verbose: bool = False
    json: bool = False


class Options(CommandOptions):
    synopsis = "hvsock stress (-s ADDRESS | -c ADDRESS) [OPTIONS]"
    longdesc = """\
With -s, listen on ADDRESS and echo every connection until killed, after
printing 'listening on ADDRESS' (with the port chosen when port 0 was asked
for). With -c, open connections to such a server, a few at a time: each sends
a random number of random bytes (0 to -n) in random writes (1 to -b bytes) as
fast as the connection takes them, half-closes, reads the echo until the end
and compares its sha256 with what was sent. Sizes take K, M and G suffixes
(powers of 1024). The summary gives MB/s as the bytes sent plus the bytes
received, in units of 10^6 bytes, per second of the whole run. The exit
status is 1 if any connection failed or came back different, else 0.

Examples:
  hvsock stress -s vsock:port=5000
  hvsock stress -c vsock:cid=3:port=5000 -i 1000 -p 50 -n 1M
  hvsock stress -c vsock://3:5000 --json
"""
    optFlags = [
        ["json", None, "print only the summary, as one JSON object, on stdout"],
    ]
    optParameters = [
        ["server", "s", None, "listen on ADDRESS and echo every connection"],
        ["client", "c", None, "connect to ADDRESS and check what comes back"],
        ["connections", "i", None, "connections in total [default: 100]"],
        ["parallel", "p", None, "connections open at a time [default: 10]"],
        ["length", "n", None, "most bytes one connection sends [default: 64K]"],
        ["chunk", "b", None, "most bytes in one write [default: 4K]"],
        ["seed", None, None, "seed for sizes and data [default: random]"],
        [
            "timeout",
            "t",
            None,
            "seconds after which a connection still going is an error "
            "[default: no limit]",
        ],
    ]

    # -l meant --length until it was given to cat's --listen alone.
    renamed = {"-l": "-n/--length"}

    _CLIENT_ONLY = (
        ("connections", "-i/--connections"),
        ("parallel", "-p/--parallel"),
        ("length", "-n/--length"),
        ("chunk", "-b/--chunk"),
        ("seed", "--seed"),
        ("timeout", "-t/--timeout"),
        ("json", "--json"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.address = ""
        self.settings: ClientSettings | None = None

    def opt_verbose(self) -> None:
        """log what is going on, and with -c print a line for each connection"""
        super().opt_verbose()

    opt_v = opt_verbose

    def parseArgs(self, *args: str) -> None:
        if args:
            raise usage.UsageError(
                f"unexpected argument {args[0]!r}: the address follows -s or -c"
            )

    def postOptions(self) -> None:
        server, client = self["server"], self["client"]
        if (server is None) == (client is None):
            raise usage.UsageError("give exactly one of -s ADDRESS and -c ADDRESS")
        if server is not None:
            for key, name in self._CLIENT_ONLY:
                if self[key]:
                    raise usage.UsageError(f"{name} applies only to the client (-c)")
            self.address = server
            return
        self.address = client
        settings: dict[str, Any] = {
            "verbose": bool(self["verbose"]),
            "json": bool(self["json"]),
        }
        given = {
            "connections": ("-i/--connections", _whole_number),
            "parallel": ("-p/--parallel", _whole_number),
            "length": ("-n/--length", parse_size),
            "chunk": ("-b/--chunk", parse_size),
            "timeout": ("-t/--timeout", _seconds),
        }
        fields = {"length": "max_length", "chunk": "max_chunk"}
        for key, (name, convert) in given.items():
            if self[key] is not None:
                settings[fields.get(key, key)] = _positive(name, self[key], convert)
        if self["seed"] is not None:
            try:
                settings["seed"] = _whole_number(self["seed"])
            except ValueError as e:
                raise usage.UsageError(f"--seed: {e}") from None
        self.settings = ClientSettings(**settings)


async def serve(reactor: Any, address: str, out: TextIO) -> int:
    """Echo every connection to ``address`` until the process is stopped."""
    port = await listening_endpoint(reactor, address).listen(echo_factory())
    print(listening_line(port), file=out, flush=True)
    forever: defer.Deferred[int] = defer.Deferred()
    return await forever


async def stress(
    reactor: Any,
    address: str,
    settings: ClientSettings,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run the client side; print per-connection lines and the summary."""
    endpoint = connecting_endpoint(reactor, address)
    seed = settings.seed
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    lines = err if settings.json else out
    progress: Progress | None = None

    def report(result: ConnectionResult) -> None:
        if settings.verbose:
            if progress is not None:
                progress.clear()
            print(fit(result.describe(), columns_of(lines)), file=lines, flush=True)

    run = StressRun(
        reactor,
        endpoint,
        connections=settings.connections,
        parallel=settings.parallel,
        max_length=settings.max_length,
        max_chunk=settings.max_chunk,
        seed=seed,
        timeout=settings.timeout,
        report=report,
    )
    if err.isatty():
        progress = Progress(err, settings.connections, run.status)
        progress.start(reactor)
    try:
        summary = await run.run()
    finally:
        if progress is not None:
            progress.stop()
    if settings.json:
        print(json.dumps(summary.as_dict()), file=out, flush=True)
    else:
        print(fit(summary.format(), columns_of(out)), file=out, flush=True)
    return 1 if summary.failed else 0


def run(reactor: Any, options: Options) -> defer.Deferred[int]:
    """The ``hvsock stress`` command: serve with ``-s``, stress with ``-c``."""
    if options.settings is None:
        return defer.ensureDeferred(serve(reactor, options.address, sys.stderr))
    return defer.ensureDeferred(
        stress(reactor, options.address, options.settings, sys.stdout, sys.stderr)
    )
