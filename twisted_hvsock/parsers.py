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

``hvsock:`` server strings (Hyper-V sockets; see ``docs/hyperv.rst``)::

    hvsock:service=5000           the Linux template's service for port 5000
    hvsock:service=3049197c-9a4e-4fbf-9367-97f792f16994:vm=children

``hvsock:`` client strings::

    hvsock:vm=MyVM:service=5000   a VM by name (looked up on the Windows host)
    hvsock:vm=parent:service=5000:timeout=5      from a guest, to the host
    hvsock:vm=1b4e28ba-2fa1-11d2-883f-0016d3cca427:service=5000:suspend=true

``io`` picks the I/O engine, ``reactor`` or ``threads``; see
``docs/io-engines.rst``.
"""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)

from ._checks import IO_ENGINES
from ._options import ClientStringParser, ServerStringParser, parse_number
from .address import CID_NAMES, parse_cid, parse_port
from .hyperv_ids import VM_NAMES, parse_service_id, parse_vm_id

__all__ = [
    "HyperVClientParser",
    "HyperVServerParser",
    "VSockClientParser",
    "VSockServerParser",
]

_CID_FORMS = f"a number or {'|'.join(CID_NAMES)}"
_IO_FORMS = "reactor|threads"
VSOCK_SERVER_USAGE = f"vsock:[port=]<port>[:cid=<cid>][:backlog=<n>][:io={_IO_FORMS}]"
VSOCK_CLIENT_USAGE = (
    f"vsock:[cid=]<cid>:[port=]<port>[:timeout=<seconds>][:io={_IO_FORMS}] "
    f"(cid: {_CID_FORMS})"
)
_VM_FORMS = f"a GUID or {'|'.join(VM_NAMES)}"
HVSOCK_SERVER_USAGE = (
    f"hvsock:[service=]<GUID|port>[:vm=<vm>][:backlog=<n>][:io={_IO_FORMS}] "
    f"(vm: {_VM_FORMS})"
)
HVSOCK_CLIENT_USAGE = (
    "hvsock:[vm=]<vm>:[service=]<GUID|port>[:timeout=<seconds>]"
    f"[:suspend=true|false][:io={_IO_FORMS}] (vm: {_VM_FORMS}, or a VM's name)"
)
_BOOLEANS = {"true": True, "yes": True, "1": True}
_BOOLEANS.update({"false": False, "no": False, "0": False})


def _parse_io(text: str | None) -> str | None:
    """The ``io`` option, in any case; ``None`` leaves the endpoint's default."""
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


class VSockServerParser(ServerStringParser):
    """
    The ``vsock:`` prefix for ``serverFromString``.
    """

    prefix = "vsock"
    usage = VSOCK_SERVER_USAGE
    positional = ("port",)
    accepted = ("port", "cid", "backlog", "io")
    required = ("port",)
    build = staticmethod(parse_vsock_server)


class VSockClientParser(ClientStringParser):
    """
    The ``vsock:`` prefix for ``clientFromString``.
    """

    prefix = "vsock"
    usage = VSOCK_CLIENT_USAGE
    positional = ("cid", "port")
    accepted = ("cid", "port", "timeout", "io")
    required = ("cid", "port")
    build = staticmethod(parse_vsock_client)


def _parse_boolean(text: str, name: str) -> bool:
    value = _BOOLEANS.get(text.strip().lower())
    if value is None:
        raise ValueError(f"{name} must be true or false, got {text!r}")
    return value


def _parse_client_vm(text: str) -> uuid.UUID | str:
    """A VM ID or a well-known VM name, or else a VM's display name."""
    if not text.strip():
        raise ValueError(f"vm must be {_VM_FORMS}, or a VM's name, got {text!r}")
    try:
        return parse_vm_id(text)
    except ValueError:
        return text


def parse_hvsock_server(
    reactor: Any,
    service: str,
    vm: str = "wildcard",
    backlog: str = "50",
    io: str | None = None,
) -> IStreamServerEndpoint:
    """
    Build a :class:`~twisted_hvsock.hyperv_endpoints.HyperVServerEndpoint`
    from the strings of an ``hvsock:`` server description.
    """
    from .hyperv_endpoints import HyperVServerEndpoint

    return HyperVServerEndpoint(
        reactor,
        service_id=parse_service_id(service),
        vm_id=parse_vm_id(vm),
        backlog=int(parse_number(backlog, "backlog", int)),
        io=_parse_io(io),
    )


def parse_hvsock_client(
    reactor: Any,
    vm: str,
    service: str,
    timeout: str = "30",
    suspend: str = "false",
    io: str | None = None,
) -> IStreamClientEndpoint:
    """
    Build a :class:`~twisted_hvsock.hyperv_endpoints.HyperVClientEndpoint`
    from the strings of an ``hvsock:`` client description.
    """
    from .hyperv_endpoints import HyperVClientEndpoint

    return HyperVClientEndpoint(
        reactor,
        vm=_parse_client_vm(vm),
        service_id=parse_service_id(service),
        timeout=parse_number(timeout, "timeout", float),
        suspend=_parse_boolean(suspend, "suspend"),
        io=_parse_io(io),
    )


class HyperVServerParser(ServerStringParser):
    """
    The ``hvsock:`` prefix for ``serverFromString``.
    """

    prefix = "hvsock"
    usage = HVSOCK_SERVER_USAGE
    positional = ("service",)
    accepted = ("service", "vm", "backlog", "io")
    required = ("service",)
    build = staticmethod(parse_hvsock_server)


class HyperVClientParser(ClientStringParser):
    """
    The ``hvsock:`` prefix for ``clientFromString``.
    """

    prefix = "hvsock"
    usage = HVSOCK_CLIENT_USAGE
    positional = ("vm", "service")
    accepted = ("vm", "service", "timeout", "suspend", "io")
    required = ("vm", "service")
    build = staticmethod(parse_hvsock_client)
