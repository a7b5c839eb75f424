"""
Endpoint-string parsers, found by Twisted's plugin system through
``twisted/plugins/twisted_hvsock_endpoints.py``.

Each parser turns the strings of an endpoint description into typed values
and builds the endpoint; any bad value raises ``ValueError`` naming the
option and what it accepts.

``vsock:`` server strings::

    vsock:5000                    listen on port 5000, every CID
    vsock:port=5000:backlog=128
    vsock:port=0                  any free port
    vsock:port=5000:cid=local     only connections to CID 1

``vsock:`` client strings::

    vsock:3:5000                  connect to CID 3, port 5000
    vsock:cid=host:port=5000:timeout=5
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin
from zope.interface import implementer

from ._options import match_options, parse_number
from .address import CID_NAMES, parse_cid, parse_port

__all__ = ["VSockClientParser", "VSockServerParser"]

_CID_FORMS = f"a number or {'|'.join(CID_NAMES)}"
VSOCK_SERVER_USAGE = "vsock:[port=]<port>[:cid=<cid>][:backlog=<n>]"
VSOCK_CLIENT_USAGE = (
    f"vsock:[cid=]<cid>:[port=]<port>[:timeout=<seconds>] (cid: {_CID_FORMS})"
)


def parse_vsock_server(
    reactor: Any, port: str, cid: str = "any", backlog: str = "50"
) -> IStreamServerEndpoint:
    """
    Build a :class:`~twisted_hvsock.endpoints.VSockServerEndpoint` from the
    strings of a ``vsock:`` server description.
    """
    from .endpoints import VSockServerEndpoint

    return VSockServerEndpoint(
        reactor,
        port=parse_port(port),
        cid=parse_cid(cid, allow_any=True),
        backlog=int(parse_number(backlog, "backlog", int)),
    )


def parse_vsock_client(
    reactor: Any, cid: str, port: str, timeout: str = "30"
) -> IStreamClientEndpoint:
    """
    Build a :class:`~twisted_hvsock.endpoints.VSockClientEndpoint` from the
    strings of a ``vsock:`` client description.
    """
    from .endpoints import VSockClientEndpoint

    return VSockClientEndpoint(
        reactor,
        cid=parse_cid(cid, allow_any=False),
        port=parse_port(port),
        timeout=parse_number(timeout, "timeout", float),
    )


@implementer(IPlugin, IStreamServerEndpointStringParser)
class VSockServerParser:
    """
    The ``vsock:`` prefix for ``serverFromString``.
    """

    prefix = "vsock"

    def parseStreamServer(
        self, reactor: Any, *args: object, **kwargs: object
    ) -> IStreamServerEndpoint:
        options = match_options(
            VSOCK_SERVER_USAGE,
            args,
            kwargs,
            positional=["port"],
            accepted=["port", "cid", "backlog"],
            required=["port"],
        )
        return parse_vsock_server(reactor, **options)


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class VSockClientParser:
    """
    The ``vsock:`` prefix for ``clientFromString``.
    """

    prefix = "vsock"

    def parseStreamClient(
        self, reactor: Any, *args: object, **kwargs: object
    ) -> IStreamClientEndpoint:
        options = match_options(
            VSOCK_CLIENT_USAGE,
            args,
            kwargs,
            positional=["cid", "port"],
            accepted=["cid", "port", "timeout"],
            required=["cid", "port"],
        )
        return parse_vsock_client(reactor, **options)
