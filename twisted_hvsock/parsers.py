"""
Every endpoint-string parser of the package, found by Twisted's plugin system
through ``twisted/plugins/twisted_hvsock_endpoints.py``.

Each parser is a declaration of its options (see :mod:`twisted_hvsock._options`):
the usage text, the accepted names, the positional order and the call of the
endpoint's constructor all come from it. Any bad value raises ``ValueError``
naming the option and what it accepts.

``vsock:`` server strings::

    vsock:5000                    listen on port 5000, every CID
    vsock:port=5000:backlog=128
    vsock:port=0                  any free port
    vsock:port=5000:cid=local     only connections to CID 1
    vsock:port=5000:io=threads    blocking I/O on threads of its own
    vsock:port=5000:allow=3,5-9   only peers with CID 3 or 5 to 9
    vsock:systemd=0               the first socket systemd passed (or a name)
    vsock:fd=3                    an inherited listening socket
    vsock:443:privateKey=key.pem:certKey=cert.pem    TLS, as Twisted's ssl:

``vsock:`` client strings::

    vsock:3:5000                  connect to CID 3, port 5000
    vsock:cid=host:port=5000:timeout=5
    vsock:3:5000:io=threads
    vsock:3:443:tls=yes:hostname=web.example:trustRoots=ca.pem

``hvsock:`` server strings (Hyper-V sockets; see ``docs/hyperv.rst``)::

    hvsock:service=5000           the Linux template's service for port 5000
    hvsock:service=3049197c-9a4e-4fbf-9367-97f792f16994:vm=children
    hvsock:service=5000:allow=parent    only the host may connect

``hvsock:`` client strings::

    hvsock:vm=MyVM:service=5000   a VM by name (looked up on the Windows host)
    hvsock:vm=parent:service=5000:timeout=5      from a guest, to the host
    hvsock:vm=1b4e28ba-2fa1-11d2-883f-0016d3cca427:service=5000:suspend=true

``hyperkit:`` strings::

    hyperkit:path=<dir>:port=<p>                 listen (on <dir>/00000002.<p hex>)
    hyperkit:path=<dir>:port=<p>[:cid=3]         connect to guest CID 3 (the default)

``hybridvsock:`` strings (Firecracker, Cloud Hypervisor), the same for both
roles::

    hybridvsock:path=<uds_path>:port=<p>         listen on <uds_path>_<p>, or
                                                 connect through <uds_path>

Every server takes ``backlog`` and ``io``, and the Unix-socket ones ``mode``
(octal permission bits, 600 unless given); every client takes ``timeout``
and ``io``. ``io`` picks the I/O engine, ``reactor`` or ``threads``; see
``docs/io-engines.rst``.
"""

from __future__ import annotations

import uuid

from ._checks import IO_ENGINES
from ._options import (
    ClientStringParser,
    Grammar,
    Option,
    ServerStringParser,
    parse_boolean,
    parse_positive_float,
    parse_positive_int,
    parse_text,
)
from .address import CID_ANY, CID_NAMES, parse_cid, parse_port
from .allow import CID_ALLOW_FORMS, VM_ALLOW_FORMS, parse_cid_allow, parse_vm_allow
from .hyperv_ids import VM_NAMES, VM_WILDCARD, parse_service_id, parse_vm_id

__all__ = [
    "HybridVSockClientParser",
    "HybridVSockServerParser",
    "HyperVClientParser",
    "HyperVServerParser",
    "HyperkitClientParser",
    "HyperkitServerParser",
    "VSockClientParser",
    "VSockServerParser",
    "parse_mode",
]


def parse_mode(text: str, name: str = "mode") -> int:
    """
    Turn permission bits given in octal (``600``, ``0600`` or ``0o600``)
    into a number.

    :raises ValueError: naming ``name`` and the accepted forms.
    """
    digits = text.strip().lower().removeprefix("0o")
    if (
        not digits
        or not digits.isascii()
        or not set(digits) <= set("01234567")
        or int(digits, 8) > 0o777
    ):
        raise ValueError(
            f"{name} must be octal permission bits from 0 to 777 (e.g. 600), "
            f"got {text!r}"
        )
    return int(digits, 8)


def _parse_port(text: str, name: str) -> int:
    return parse_port(text, name=name)


def _parse_listening_cid(text: str, name: str) -> int:
    return parse_cid(text, allow_any=True, name=name)


def _parse_connecting_cid(text: str, name: str) -> int:
    return parse_cid(text, allow_any=False, name=name)


def _parse_io(text: str, name: str) -> str:
    # Any case is accepted; the endpoint checks the engine (_checks.check_io).
    return text.strip().lower()


_VM_FORMS = f"a GUID or {'|'.join(VM_NAMES)}"


def _parse_client_vm(text: str, name: str) -> uuid.UUID | str:
    """A VM ID or a well-known VM name, or else a VM's display name."""
    if not text.strip():
        raise ValueError(f"{name} must be {_VM_FORMS}, or a VM's name, got {text!r}")
    try:
        return parse_vm_id(text, name)
    except ValueError:
        return text


# The options several parsers share.
_CID_NOTE = f"a number or {'|'.join(CID_NAMES)}"
_PORT = Option("port", _parse_port, "<port>", positional=True)
# No backlog given: the endpoint's default, the kernel's longest queue.
_BACKLOG = Option("backlog", parse_positive_int, "<n>", default=None)
_TIMEOUT = Option("timeout", parse_positive_float, "<seconds>", default=30.0)
_IO = Option("io", _parse_io, "|".join(IO_ENGINES), default=None)
# The owner-only default is _unix_sockets.OWNER_ONLY, written out so that the
# plugin scan does not load the socket code.
_MODE = Option("mode", parse_mode, "<octal>", default=0o600)


def _pem(name: str, form: str = "<PEM file>") -> Option[str | None]:
    # A file the TLS options read (twisted_hvsock.tls), as Twisted's ssl: has.
    return Option(name, parse_text, form, default=None)


# The TLS words of Twisted's ssl: (servers) and tls: (clients) strings.
_SERVER_TLS = (
    _pem("privateKey"),
    _pem("certKey"),
    _pem("extraCertChain"),
    _pem("trustRoots", "<PEM file|dir>"),
)
_CLIENT_TLS = (
    Option("tls", parse_boolean, "yes|no", default=False),
    Option("hostname", parse_text, "<name>", default=None),
    _pem("trustRoots", "<PEM file|dir>"),
    _pem("certificate"),
    _pem("privateKey"),
)


def _path(form: str) -> Option[str]:
    return Option("path", parse_text, form, positional=True)


def _parse_descriptor(text: str, name: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit():
        raise ValueError(f"{name} must be a descriptor number, 0 or more, got {text!r}")
    return int(text)


class VSockServerParser(ServerStringParser):
    """The ``vsock:`` prefix for ``serverFromString``."""

    grammar = Grammar(
        "vsock",
        "tls:vsock_server",
        (
            # No port when an inherited socket (fd, systemd) is given.
            Option("port", _parse_port, "<port>", default=None, positional=True),
            Option(
                "cid",
                _parse_listening_cid,
                "<cid>",
                default=CID_ANY,
                note=_CID_NOTE,
            ),
            _BACKLOG,
            _IO,
            Option(
                "allow",
                parse_cid_allow,
                "<cids>",
                default=None,
                note=CID_ALLOW_FORMS,
            ),
            Option("fd", _parse_descriptor, "<n>", default=None),
            Option("systemd", parse_text, "<index|name>", default=None),
            *_SERVER_TLS,
        ),
    )


class VSockClientParser(ClientStringParser):
    """The ``vsock:`` prefix for ``clientFromString``."""

    grammar = Grammar(
        "vsock",
        "tls:vsock_client",
        (
            Option(
                "cid",
                _parse_connecting_cid,
                "<cid>",
                positional=True,
                note=_CID_NOTE,
            ),
            _PORT,
            _TIMEOUT,
            _IO,
            *_CLIENT_TLS,
        ),
    )


_SERVICE = Option(
    "service", parse_service_id, "<GUID|port>", positional=True, argument="service_id"
)


class HyperVServerParser(ServerStringParser):
    """The ``hvsock:`` prefix for ``serverFromString``."""

    grammar = Grammar(
        "hvsock",
        "hyperv_endpoints:HyperVServerEndpoint",
        (
            _SERVICE,
            Option(
                "vm",
                parse_vm_id,
                "<vm>",
                default=VM_WILDCARD,
                argument="vm_id",
                note=_VM_FORMS,
            ),
            _BACKLOG,
            _IO,
            Option(
                "allow",
                parse_vm_allow,
                "<vms>",
                default=None,
                note=VM_ALLOW_FORMS,
            ),
        ),
    )


class HyperVClientParser(ClientStringParser):
    """The ``hvsock:`` prefix for ``clientFromString``."""

    grammar = Grammar(
        "hvsock",
        "hyperv_endpoints:HyperVClientEndpoint",
        (
            Option(
                "vm",
                _parse_client_vm,
                "<vm>",
                positional=True,
                note=f"{_VM_FORMS}, or a VM's name",
            ),
            _SERVICE,
            _TIMEOUT,
            Option("suspend", parse_boolean, "true|false", default=False),
            _IO,
        ),
    )


class HyperkitServerParser(ServerStringParser):
    """The ``hyperkit:`` prefix for ``serverFromString``."""

    grammar = Grammar(
        "hyperkit",
        "tls:hyperkit_server",
        (_path("<dir>"), _PORT, _BACKLOG, _MODE, _IO, *_SERVER_TLS),
    )


class HyperkitClientParser(ClientStringParser):
    """The ``hyperkit:`` prefix for ``clientFromString``."""

    grammar = Grammar(
        "hyperkit",
        "tls:hyperkit_client",
        (
            _path("<dir>"),
            _PORT,
            # hyperkit.GUEST_CID, written out so the plugin scan need not load it.
            Option("cid", _parse_connecting_cid, "<cid>", default=3, note=_CID_NOTE),
            _TIMEOUT,
            _IO,
            *_CLIENT_TLS,
        ),
    )


class HybridVSockServerParser(ServerStringParser):
    """The ``hybridvsock:`` prefix for ``serverFromString``."""

    grammar = Grammar(
        "hybridvsock",
        "tls:hybrid_vsock_server",
        (_path("<uds_path>"), _PORT, _BACKLOG, _MODE, _IO, *_SERVER_TLS),
    )


class HybridVSockClientParser(ClientStringParser):
    """The ``hybridvsock:`` prefix for ``clientFromString``."""

    grammar = Grammar(
        "hybridvsock",
        "tls:hybrid_vsock_client",
        (_path("<uds_path>"), _PORT, _TIMEOUT, _IO, *_CLIENT_TLS),
    )
