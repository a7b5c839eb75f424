"""
What a failure says to the person at the terminal: one line of words, never
a Python repr. Every ``hvsock`` command prints failures through
:func:`one_line`, the log lines included, so a kind of failure is worded in
one place.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet import error
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import IAddress
from twisted.python.failure import Failure

from ..address import VSockAddress
from ..errors import WaitTimeoutError
from ..hyperv_ids import HyperVAddress
from .addresses import describe_address

__all__ = ["listen_target", "one_line"]


def _option_name(port: object) -> bool:
    # An inherited descriptor is named by its option (fd=3), not a path.
    return isinstance(port, str) and re.fullmatch(r"fd=\d+", port) is not None


def _listen_address(interface: object, port: object) -> IAddress | None:
    """The address a ``CannotListenError``'s two fields stand for, if known."""
    if isinstance(interface, int) and isinstance(port, int):
        return VSockAddress(interface, port)
    if interface is None and isinstance(port, (str, bytes)):
        return UNIXAddress(port)
    if isinstance(interface, str) and isinstance(port, int):
        if ":" in interface:
            return IPv6Address("TCP", interface, port)
        # Twisted's TCP ports write every interface as "".
        return IPv4Address("TCP", interface or "0.0.0.0", port)
    if isinstance(interface, str) and isinstance(port, str):
        # Hyper-V ports name the VM and the service by GUID.
        return HyperVAddress(uuid.UUID(interface), uuid.UUID(port))
    return None


def listen_target(interface: object, port: object) -> str:
    """
    Where a port failed to listen, as a user would write it: the
    ``interface`` and ``port`` of a ``CannotListenError`` (a CID and a vsock
    port, ``None`` and a socket file, a TCP interface and port, ...).
    """
    if _option_name(port):
        return str(port)
    try:
        address = _listen_address(interface, port)
    except ValueError:
        address = None
    if address is None:
        return f"{interface}:{port}"
    return describe_address(address)


def _reason(value: object) -> str:
    """A ``CannotListenError``'s reason: an ``OSError`` reads as its words."""
    if isinstance(value, OSError) and value.strerror:
        return value.strerror
    return str(value)


def _cannot_listen(value: error.CannotListenError) -> str:
    where = listen_target(value.interface, value.port)
    return f"cannot listen on {where}: {_reason(value.socketError)}"


def _connect_error(value: error.ConnectError) -> str:
    text = str(value).rstrip(".")
    if isinstance(value.osError, int):
        # Twisted puts the errno's number before its words: "2: No such file".
        text = text.replace(f": {value.osError}: ", ": ", 1)
    # ConnectError's own opening says nothing once a reason follows it.
    text = text.removeprefix(f"{error.ConnectError.MESSAGE}: ")
    return text[0].lower() + text[1:] if text else type(value).__name__


def _identity(identity: object) -> str:
    """The name a certificate was checked against (service_identity's IDs)."""
    for field in ("hostname", "ip"):
        value = getattr(identity, field, None)
        if isinstance(value, bytes):
            return value.decode("ascii", "replace")
        if value is not None:
            return str(value)
    inner = getattr(identity, "dns_id", None)  # URI and SRV IDs
    return _identity(inner) if inner is not None else "the name asked for"


def _names(errors: Iterable[object]) -> str:
    names = [_identity(getattr(e, "mismatched_id", None)) for e in errors]
    return " or ".join(dict.fromkeys(names)) or "the name asked for"


def _certificate_mismatch(value: Any) -> str:
    # service_identity's VerificationError: the certificate verified, but
    # carries none of the names the client asked for.
    return f"TLS: the peer's certificate is not for {_names(value.errors)}"


def _tls_error(value: Any) -> str:
    # pyOpenSSL's Error holds [(library, function, reason), ...].
    reasons = [
        entry[2]
        for entry in (value.args[0] if value.args else [])
        if isinstance(entry, tuple) and len(entry) == 3 and entry[2]
    ]
    if "certificate verify failed" in reasons:
        return (
            "TLS: the peer's certificate did not verify (not signed by a "
            "trusted root, expired, or not yet valid)"
        )
    return f"TLS failed: {'; '.join(reasons) or 'the handshake did not complete'}"


def _wait_ended(value: WaitTimeoutError) -> str:
    attempts = "1 attempt" if value.attempts == 1 else f"{value.attempts} attempts"
    return (
        f"gave up after {attempts} in {value.elapsed:.3g} s; "
        f"the last: {one_line(value.last_error)}"
    )


#: Failures worded here, by type; the types of optional libraries (the
#: ``tls`` extra) are named as strings so that nothing imports them.
_WORDS: list[tuple[type[BaseException] | str, Callable[[Any], str]]] = [
    (WaitTimeoutError, _wait_ended),
    (error.CannotListenError, _cannot_listen),
    (error.ConnectError, _connect_error),
    ("service_identity.exceptions.VerificationError", _certificate_mismatch),
    ("OpenSSL.SSL.Error", _tls_error),
]


def one_line(failure: Failure | BaseException) -> str:
    """A failure as the one line a user reads."""
    if not isinstance(failure, Failure):
        failure = Failure(failure)
    for kind, words in _WORDS:
        if failure.check(kind):
            return words(failure.value)
    value = failure.value
    return str(value) or type(value).__name__
