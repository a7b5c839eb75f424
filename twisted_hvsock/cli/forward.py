"""
``hvsock forward LISTEN CONNECT``: accept on one address, relay each
connection to another.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred

from ..forward import ForwardingFactory
from .addresses import connecting_endpoint, listening_endpoint, listening_line
from .command_options import CommandOptions


class Options(CommandOptions):
    synopsis = "hvsock forward LISTEN CONNECT"
    longdesc = """Accept connections on LISTEN and relay each one to a new connection to
CONNECT, both directions, passing half-close and backpressure through.
Both addresses are Twisted endpoint strings or URIs. Runs until interrupted;
the same service runs under twistd as 'twistd -n hvsock-forward'.

Examples:
  hvsock forward tcp:8080:interface=127.0.0.1 vsock:cid=3:port=80
      reach a guest's web server from the host's loopback
  hvsock forward vsock://:2222 tcp:localhost:22
      give guests the host's SSH server on vsock port 2222
"""

    def parseArgs(self, listen: str, connect: str) -> None:  # type: ignore[override]
        self["listen"] = listen
        self["connect"] = connect


def run(reactor: Any, options: Options) -> Deferred[int]:
    return ensureDeferred(_forward(reactor, options))


async def _forward(reactor: Any, options: Options) -> int:
    destination = connecting_endpoint(reactor, options["connect"], "CONNECT")
    listening = listening_endpoint(reactor, options["listen"], "LISTEN")
    port = await listening.listen(ForwardingFactory(destination))
    print(listening_line(port), file=sys.stderr)
    print(f"forwarding to {options['connect']}", file=sys.stderr, flush=True)
    await Deferred()  # until interrupted
    return 0
