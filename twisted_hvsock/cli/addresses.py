"""
Printing addresses the way a user would type them back in.
"""

from __future__ import annotations

import os

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import IAddress, IListeningPort


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
