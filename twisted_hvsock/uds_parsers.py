"""
Endpoint-string parsers for the hypervisors that expose guest vsock as Unix
sockets, found by Twisted's plugin system through
``twisted/plugins/twisted_hvsock_endpoints.py``.

``hyperkit:`` strings::

    hyperkit:path=<dir>:port=<p>                 listen (on <dir>/00000002.<p hex>)
    hyperkit:path=<dir>:port=<p>[:cid=3]         connect to guest CID 3 (the default)

``hybridvsock:`` strings (Firecracker, Cloud Hypervisor), the same for both
roles::

    hybridvsock:path=<uds_path>:port=<p>         listen on <uds_path>_<p>, or
                                                 connect through <uds_path>

Every server takes ``backlog``, ``mode`` (octal permission bits, 600 unless
given) and ``io``; every client takes ``timeout`` and ``io``.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)

from ._options import ClientStringParser, ServerStringParser, parse_number
from .address import parse_cid, parse_port
from .parsers import _IO_FORMS, _parse_io

__all__ = [
    "HybridVSockClientParser",
    "HybridVSockServerParser",
    "HyperkitClientParser",
    "HyperkitServerParser",
    "parse_mode",
]

_SERVER_OPTIONS = f"[:backlog=<n>][:mode=<octal>][:io={_IO_FORMS}]"
_CLIENT_OPTIONS = f"[:timeout=<seconds>][:io={_IO_FORMS}]"
HYPERKIT_SERVER_USAGE = f"hyperkit:path=<dir>:port=<port>{_SERVER_OPTIONS}"
HYPERKIT_CLIENT_USAGE = f"hyperkit:path=<dir>:port=<port>[:cid=<cid>]{_CLIENT_OPTIONS}"
HYBRID_SERVER_USAGE = f"hybridvsock:path=<uds_path>:port=<port>{_SERVER_OPTIONS}"
HYBRID_CLIENT_USAGE = f"hybridvsock:path=<uds_path>:port=<port>{_CLIENT_OPTIONS}"


def parse_mode(text: str) -> int:
    """
    Turn permission bits given in octal (``600``, ``0600`` or ``0o600``)
    into a number.

    :raises ValueError: naming ``mode`` and the accepted forms.
    """
    digits = text.strip().lower().removeprefix("0o")
    if (
        not digits
        or not digits.isascii()
        or not set(digits) <= set("01234567")
        or int(digits, 8) > 0o777
    ):
        raise ValueError(
            f"mode must be octal permission bits from 0 to 777 (e.g. 600), got {text!r}"
        )
    return int(digits, 8)


def parse_hyperkit_server(
    reactor: Any,
    path: str,
    port: str,
    backlog: str = "50",
    mode: str = "600",
    io: str | None = None,
) -> IStreamServerEndpoint:
    """
    Build a :class:`~twisted_hvsock.hyperkit.HyperkitServerEndpoint` from the
    strings of a ``hyperkit:`` server description.
    """
    from .hyperkit import HyperkitServerEndpoint

    return HyperkitServerEndpoint(
        reactor,
        path,
        parse_port(port),
        backlog=int(parse_number(backlog, "backlog", int)),
        mode=parse_mode(mode),
        io=_parse_io(io),
    )


def parse_hyperkit_client(
    reactor: Any,
    path: str,
    port: str,
    cid: str = "3",
    timeout: str = "30",
    io: str | None = None,
) -> IStreamClientEndpoint:
    """
    Build a :class:`~twisted_hvsock.hyperkit.HyperkitClientEndpoint` from the
    strings of a ``hyperkit:`` client description.
    """
    from .hyperkit import HyperkitClientEndpoint

    return HyperkitClientEndpoint(
        reactor,
        path,
        parse_port(port),
        cid=parse_cid(cid, allow_any=False),
        timeout=parse_number(timeout, "timeout", float),
        io=_parse_io(io),
    )


def parse_hybrid_server(
    reactor: Any,
    path: str,
    port: str,
    backlog: str = "50",
    mode: str = "600",
    io: str | None = None,
) -> IStreamServerEndpoint:
    """
    Build a :class:`~twisted_hvsock.hybrid_vsock.HybridVSockServerEndpoint`
    from the strings of a ``hybridvsock:`` server description.
    """
    from .hybrid_vsock import HybridVSockServerEndpoint

    return HybridVSockServerEndpoint(
        reactor,
        path,
        parse_port(port),
        backlog=int(parse_number(backlog, "backlog", int)),
        mode=parse_mode(mode),
        io=_parse_io(io),
    )


def parse_hybrid_client(
    reactor: Any,
    path: str,
    port: str,
    timeout: str = "30",
    io: str | None = None,
) -> IStreamClientEndpoint:
    """
    Build a :class:`~twisted_hvsock.hybrid_vsock.HybridVSockClientEndpoint`
    from the strings of a ``hybridvsock:`` client description.
    """
    from .hybrid_vsock import HybridVSockClientEndpoint

    return HybridVSockClientEndpoint(
        reactor,
        path,
        parse_port(port),
        timeout=parse_number(timeout, "timeout", float),
        io=_parse_io(io),
    )


class HyperkitServerParser(ServerStringParser):
    """The ``hyperkit:`` prefix for ``serverFromString``."""

    prefix = "hyperkit"
    usage = HYPERKIT_SERVER_USAGE
    positional = ("path", "port")
    accepted = ("path", "port", "backlog", "mode", "io")
    required = ("path", "port")
    build = staticmethod(parse_hyperkit_server)


class HyperkitClientParser(ClientStringParser):
    """The ``hyperkit:`` prefix for ``clientFromString``."""

    prefix = "hyperkit"
    usage = HYPERKIT_CLIENT_USAGE
    positional = ("path", "port")
    accepted = ("path", "port", "cid", "timeout", "io")
    required = ("path", "port")
    build = staticmethod(parse_hyperkit_client)


class HybridVSockServerParser(ServerStringParser):
    """The ``hybridvsock:`` prefix for ``serverFromString``."""

    prefix = "hybridvsock"
    usage = HYBRID_SERVER_USAGE
    positional = ("path", "port")
    accepted = ("path", "port", "backlog", "mode", "io")
    required = ("path", "port")
    build = staticmethod(parse_hybrid_server)


class HybridVSockClientParser(ClientStringParser):
    """The ``hybridvsock:`` prefix for ``clientFromString``."""

    prefix = "hybridvsock"
    usage = HYBRID_CLIENT_USAGE
    positional = ("path", "port")
    accepted = ("path", "port", "timeout", "io")
    required = ("path", "port")
    build = staticmethod(parse_hybrid_client)
