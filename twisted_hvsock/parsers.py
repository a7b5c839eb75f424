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
    vsock:port=5000:io=threads    blocking I/O on threads of its own

``vsock:`` client strings::

    vsock:3:5000                  connect to CID 3, port 5000
    vsock:cid=host:port=5000:timeout=5
    vsock:3:5000:io=threads

``io`` picks the I/O engine, ``reactor`` or ``threads``; see
``docs/io-engines.rst``.
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
_IO_FORMS = "reactor|threads"
VSOCK_SERVER_USAGE = f"vsock:[port=]<port>[:cid=<cid>][:backlog=<n>][:io={_IO_FORMS}]"
VSOCK_CLIENT_USAGE = (
    f"vsock:[cid=]<cid>:[port=]<port>[:timeout=<seconds>][:io={_IO_FORMS}] "
    f"(cid: {_CID_FORMS})"
)


def _parse_io(text: str | None) -> str | None:
    """The ``io`` option, in any case; ``None`` leaves the endpoint's default."""
    from .endpoints import IO_ENGINES

    if text is None:
        return None
    engine = text.strip().lower()
    if engine not in IO_ENGINES:
        raise ValueError(f"io must be one of {', '.join(IO_ENGINES)}, got {text!r}")
    return engine


def parse_vsock_server(
    reactor: Any,
    port: str,
    cid: str = "any",
    backlog: str = "50",
    io: str | None = None,
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
        io=_parse_io(io),
    )


def parse_vsock_client(
    reactor: Any, cid: str, port: str, timeout: str = "30", io: str | None = None
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
        io=_parse_io(io),
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
            accepted=["port", "cid", "backlog", "io"],
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
            accepted=["cid", "port", "timeout", "io"],
            required=["cid", "port"],
        )
        return parse_vsock_client(reactor, **options)
