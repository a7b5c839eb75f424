"""
Turning the addresses users type into endpoints, and printing addresses the
way a user would type them back in.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from twisted.python import usage

from ..uri import client_endpoint, server_endpoint


class AddressError(usage.UsageError):
    """An address on the command line that no endpoint can be built from."""


def _explained(argument: str, text: str, reason: ValueError) -> AddressError:
    why = str(reason) or type(reason).__name__
    if text in why:
        return AddressError(f"{argument}: {why}")
    return AddressError(f"{argument} {text!r}: {why}")


def listening_endpoint(
    reactor: Any, text: str, argument: str = "ADDRESS"
) -> IStreamServerEndpoint:
    """
    The server endpoint for ``text``, a URI or endpoint string.

    :raises AddressError: naming ``argument``, for anything that stops the
        endpoint being built (the URI layer turns every such failure, Twisted's
        own parsers' included, into a ``ValueError``).
    """
    try:
        return server_endpoint(reactor, text)
    except ValueError as e:
        raise _explained(argument, text, e) from e


def connecting_endpoint(
    reactor: Any, text: str, argument: str = "ADDRESS"
) -> IStreamClientEndpoint:
    """
    The client endpoint for ``text``, a URI or endpoint string.

    :raises AddressError: naming ``argument``, as :func:`listening_endpoint`.
    """
    try:
        return client_endpoint(reactor, text)
    except ValueError as e:
        raise _explained(argument, text, e) from e


def describe_address(address: IAddress) -> str:
    """A listening address the way a user would pass it to ``-c``."""
    if isinstance(address, UNIXAddress):
        name = address.name
        return f"unix:{os.fsdecode(name) if name is not None else ''}"
    if isinstance(address, IPv6Address):
        host = address.host.replace(":", "\\:")
        return f"tcp6:host={host}:port={address.port}"
    if isinstance(address, IPv4Address):
        return f"tcp:{address.host}:{address.port}"
    return str(address)


def listening_line(port: IListeningPort) -> str:
    """The line tools print once they listen, naming the address to use."""
    return f"listening on {describe_address(port.getHost())}"
