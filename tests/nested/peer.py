"""
One end of a nested-tier scenario, on either I/O engine, reporting what it
saw as JSON lines on its standard output.

The outer guest runs it as ``python -m tests.nested.peer ROLE ...``; the
inner guest's end is the Go peer (tests/peers/vsockpeer), which the agent
(``agent.sh``) runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.task import react
from zope.interface import implementer

#: Bytes per write of :func:`send_echo` (the rest waits in the transport).
CHUNK = 256 * 1024


def say(**fields: Any) -> None:
    """Report one fact, as a JSON line."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def payload(size: int, seed: int = 16) -> bytes:
    """``size`` reproducible pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


@implementer(IHalfCloseableProtocol)
class _Counting(protocol.Protocol):
    """
    Counts and hashes what it receives, closes once the peer has half-closed,
    and reports its addresses and counts when the connection ends.
    """

    def __init__(self, done: defer.Deferred[dict[str, Any]]) -> None:
        self._done = done
        self._received = 0
        self._digest = hashlib.sha256()
        self._addresses: dict[str, str] = {}

    def connectionMade(self) -> None:
        # Read now: by connectionLost the transport's socket is gone.
        transport: Any = self.transport
        self._addresses = {
            "host": str(transport.getHost()),
            "peer": str(transport.getPeer()),
        }

    def dataReceived(self, data: bytes) -> None:
        self._received += len(data)
        self._digest.update(data)

    def readConnectionLost(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass

    def report(self, reason: Any) -> dict[str, Any]:
        """What :meth:`connectionLost` reports."""
        return {
            **self._addresses,
            "received": self._received,
            "sha256": self._digest.hexdigest(),
        }

    def connectionLost(self, reason: Any) -> None:
        self._done.callback(self.report(reason))


class _Echo(_Counting):
    """Echoes until the peer half-closes, then closes."""

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self.transport.write(data)  # type: ignore[union-attr]


class _Sender(_Counting):
    """Sends its data, half-closes, and reads the echo to its end."""

    def __init__(self, data: bytes, done: defer.Deferred[dict[str, Any]]) -> None:
        super().__init__(done)
        self._data = data

    def connectionMade(self) -> None:
        super().connectionMade()
        transport: Any = self.transport
        view = memoryview(self._data)
        for start in range(0, len(view), CHUNK):
            transport.write(bytes(view[start : start + CHUNK]))
        transport.loseWriteConnection()

    def report(self, reason: Any) -> dict[str, Any]:
        return {
            **super().report(reason),
            "sent_sha256": hashlib.sha256(self._data).hexdigest(),
            "reason": reason.type.__name__,
        }


def _client(reactor: Any, engine: str, cid: int, port: int) -> Any:
    """Our client endpoint to ``cid:port`` on ``engine``."""
    from twisted.internet.endpoints import clientFromString

    return clientFromString(
        reactor, f"vsock:cid={cid}:port={port}:io={engine}:timeout=60"
    )


async def _serve_echo(reactor: Any, engine: str, port: int) -> None:
    from twisted.internet.endpoints import serverFromString

    done: defer.Deferred[dict[str, Any]] = defer.Deferred()
    factory = protocol.Factory.forProtocol(lambda: _Echo(done))
    endpoint = serverFromString(reactor, f"vsock:port={port}:io={engine}")
    listening = await endpoint.listen(factory)
    say(ready=listening.getHost().port)
    report = await done
    await listening.stopListening()
    say(**report)


async def _send_echo(reactor: Any, engine: str, cid: int, port: int, size: int) -> None:
    from twisted_hvsock.address import local_cid

    done: defer.Deferred[dict[str, Any]] = defer.Deferred()
    data = payload(size)
    factory = protocol.Factory.forProtocol(lambda: _Sender(data, done))
    endpoint = _client(reactor, engine, cid, port)
    await endpoint.connect(factory)
    report = await done
    say(local_cid=local_cid(), **report)


async def _try_connect(reactor: Any, engine: str, cid: int, port: int) -> None:
    endpoint = _client(reactor, engine, cid, port)
    try:
        connected = await endpoint.connect(
            protocol.Factory.forProtocol(protocol.Protocol)
        )
    except Exception as e:
        say(error=type(e).__name__, message=str(e))
    else:
        connected.transport.abortConnection()
        say(error=None)


class _Abort(protocol.Protocol):
    """Aborts the connection as soon as it is made."""

    def __init__(self, done: defer.Deferred[str]) -> None:
        self._done = done

    def connectionMade(self) -> None:
        transport: Any = self.transport
        transport.abortConnection()

    def connectionLost(self, reason: Any) -> None:
        self._done.callback(reason.type.__name__)


async def _abort(reactor: Any, engine: str, cid: int, port: int) -> None:
    done: defer.Deferred[str] = defer.Deferred()
    endpoint = _client(reactor, engine, cid, port)
    await endpoint.connect(protocol.Factory.forProtocol(lambda: _Abort(done)))
    say(reason=await done)


ROLES = {
    "abort": _abort,
    "serve-echo": _serve_echo,
    "send-echo": _send_echo,
    "try-connect": _try_connect,
}


def run(role: str, *args: Any) -> None:
    """Run ``role`` with ``args`` on a fresh reactor, then exit."""
    scenario = ROLES[role]
    react(lambda reactor: defer.Deferred.fromCoroutine(scenario(reactor, *args)))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.nested.peer")
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("args", nargs="*")
    arguments = parser.parse_args(argv)
    run(arguments.role, *(_value(arg) for arg in arguments.args))


def _value(text: str) -> Any:
    return int(text) if text.isdigit() else text


if __name__ == "__main__":
    main(sys.argv[1:])
