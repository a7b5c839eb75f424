"""
Turning the addresses users type into endpoints, and printing addresses the
way a user would type them back in.
"""

from __future__ import annotations

import os
import re
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


#: The positional fields of Twisted's own endpoint strings, by type:
#: (listening, connecting). Its parsers' errors name no field.
_TWISTED_POSITIONAL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tcp": (("port",), ("host", "port")),
    "tcp6": (("port",), ()),
    "ssl": (("port",), ("host", "port")),
    "tls": ((), ("host", "port")),
    "unix": (("address",), ("path",)),
}
#: What Python says when int() or a call refuses its arguments.
_NOT_A_NUMBER = re.compile(r"invalid literal for int\(\) with base (\d+): '(.*)'")
_MISSING = re.compile(r"missing \d+ required positional arguments?: (.*)")


def _fields(text: str) -> list[str]:
    """The colon-separated fields of an endpoint string (``\\:`` escapes)."""
    return re.split(r"(?<!\\):", text)


def _field_name(text: str, value: str, listening: bool) -> str:
    """Which option of ``text`` holds ``value``, as the user would name it."""
    kind, *fields = _fields(text)
    positional = _TWISTED_POSITIONAL.get(kind, ((), ()))[0 if listening else 1]
    index = 0
    for field in fields:
        name, equals, given = field.partition("=")
        if equals and name.isidentifier():
            if given == value:
                return name
        else:
            if field == value:
                return positional[index] if index < len(positional) else "a field"
            index += 1
    return "a field"


def _in_words(text: str, why: str, listening: bool) -> str:
    """Python's own words for a bad value or a missing one, as a user's."""
    number = _NOT_A_NUMBER.search(why)
    if number is not None:
        base, value = number.groups()
        name = _field_name(text, value, listening)
        kind = "an octal number such as 660" if base == "8" else "a whole number"
        return f"{name} must be {kind}, got {value!r}"
    missing = _MISSING.search(why)
    if missing is not None:
        names = re.findall(r"'(\w+)'", missing[1])
        return f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} missing"
    return why


def _explained(
    argument: str, text: str, reason: ValueError, listening: bool
) -> AddressError:
    why = _in_words(text, str(reason) or type(reason).__name__, listening)
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
        raise _explained(argument, text, e, listening=True) from e


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
        raise _explained(argument, text, e, listening=False) from e


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
