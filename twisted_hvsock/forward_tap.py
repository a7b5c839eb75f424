"""
``twistd hvsock-forward``: the forwarder as a twistd service.

    twistd -n hvsock-forward --listen tcp:8080 --connect vsock:cid=3:port=80
"""

from __future__ import annotations

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService
from twisted.python import usage

from .forward import ForwardingFactory
from .uri import client_endpoint, server_endpoint


class Options(usage.Options):
    synopsis = "--listen ADDRESS --connect ADDRESS"
    longdesc = (
        "Relay every connection accepted on --listen to a new connection to "
        "--connect. Addresses are Twisted endpoint strings or URIs."
    )
    optParameters = [
        ["listen", None, None, "where to accept connections"],
        ["connect", None, None, "where to relay each connection to"],
    ]

    def postOptions(self) -> None:
        for name in ("listen", "connect"):
            if not self[name]:
                raise usage.UsageError(f"--{name} is required")


def makeService(options: Options) -> IService:
    """Build the forwarding service twistd runs."""
    from twisted.internet import reactor

    destination = client_endpoint(reactor, options["connect"])
    listening = server_endpoint(reactor, options["listen"])
    return StreamServerEndpointService(listening, ForwardingFactory(destination))
