"""
The URIs that ocaml-hvsock and linuxkit/virtsock users type, and the one
function every tool uses to turn a user's address, URI or Twisted endpoint
string, into an endpoint.

==============================  ===========================================
URI                             meaning
==============================  ===========================================
``vsock://:80``                 AF_VSOCK port 80, any CID (listening)
``vsock://3:80``                AF_VSOCK port 80 of CID 3 (a trailing ``/``
                                is allowed); CIDs by number or name
``hvsock://<vm>/<service>``     Hyper-V socket: VM GUID, name (``parent``,
                                ``loopback``, ...) or display name; service
                                GUID or vsock port
``hyperkit://:80/<path>``       vsock port 80 of the hyperkit VM whose state
                                directory is ``<path>`` (``/./`` or ``/../``
                                starts a relative path); ``hyperkit://3:80/...``
                                names the guest CID
``hybridvsock://:52/<path>``    vsock port 52 behind the Firecracker or Cloud
                                Hypervisor socket ``<path>``
==============================  ===========================================
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IStreamClientEndpoint, IStreamServerEndpoint

from .address import CID_ANY, CID_HOST, parse_cid, parse_port
from .hyperv_ids import VM_NAMES, parse_service_id, parse_vm_id

__all__ = [
    "HybridVSockURI",
    "HyperVURI",
    "HyperkitURI",
    "VSockURI",
    "client_endpoint",
    "parse_uri",
    "server_endpoint",
]

URI_SCHEMES = ("vsock", "hvsock", "hyperkit", "hybridvsock")
_URI = re.compile(r"^(?P<scheme>[a-z]+)://(?P<rest>.*)$", re.DOTALL)
_FORMS = {
    "vsock": "vsock://[<cid>]:<port>[/]",
    "hvsock": "hvsock://<vm GUID|name>/<service GUID|port>",
    "hyperkit": "hyperkit://[<cid>]:<port>/<state directory>",
    "hybridvsock": "hybridvsock://:<port>/<socket path>",
}


@dataclass(frozen=True)
class VSockURI:
    """``vsock://[<cid>]:<port>``; ``cid`` is ``None`` when left out."""

    cid: int | None
    port: int


@dataclass(frozen=True)
class HyperVURI:
    """
    ``hvsock://<vm>/<service>``: ``vm_id`` is set for a GUID or a well-known
    name, ``vm_name`` for a VM's display name (resolved on a Windows host).
    """

    vm_id: uuid.UUID | None
    vm_name: str | None
    service_id: uuid.UUID


@dataclass(frozen=True)
class HyperkitURI:
    """``hyperkit://[<cid>]:<port>/<path>``."""

    cid: int | None
    port: int
    path: str


@dataclass(frozen=True)
class HybridVSockURI:
    """``hybridvsock://:<port>/<path>``."""

    port: int
    path: str


AnyURI = VSockURI | HyperVURI | HyperkitURI | HybridVSockURI


def is_uri(text: str) -> bool:
    """Whether ``text`` uses one of the URI schemes above."""
    match = _URI.match(text)
    return match is not None and match["scheme"] in URI_SCHEMES


def parse_uri(text: str) -> AnyURI:
    """
    Parse one of the URIs above.

    :raises ValueError: saying which form was expected.
    """
    match = _URI.match(text)
    if match is None or match["scheme"] not in URI_SCHEMES:
        forms = "; ".join(_FORMS.values())
        raise ValueError(f"expected a URI of one of the forms {forms}; got {text!r}")
    scheme, rest = match["scheme"], match["rest"]
    try:
        if scheme == "vsock":
            return _parse_vsock(rest)
        if scheme == "hvsock":
            return _parse_hvsock(rest)
        cid, port, path = _split_port_and_path(rest)
        if scheme == "hyperkit":
            return HyperkitURI(cid, port, path)
        if cid is not None:
            raise ValueError("a hybridvsock URI names no CID")
        return HybridVSockURI(port, path)
    except ValueError as e:
        raise ValueError(f"expected {_FORMS[scheme]}, got {text!r}: {e}") from None


def _split_cid_port(authority: str) -> tuple[int | None, int]:
    cid_text, colon, port_text = authority.rpartition(":")
    if not colon:
        raise ValueError("the port is missing")
    cid = parse_cid(cid_text) if cid_text else None
    return cid, parse_port(port_text)


def _parse_vsock(rest: str) -> VSockURI:
    authority = rest.removesuffix("/")
    if "/" in authority:
        raise ValueError("a vsock URI has no path")
    return VSockURI(*_split_cid_port(authority))


def _parse_hvsock(rest: str) -> HyperVURI:
    vm, slash, service = rest.partition("/")
    service = service.removesuffix("/")
    if not slash or not vm or not service:
        raise ValueError("both the VM and the service are needed")
    service_id = parse_service_id(service)
    try:
        return HyperVURI(parse_vm_id(vm), None, service_id)
    except ValueError:
        return HyperVURI(None, vm, service_id)  # a VM's display name


def _split_port_and_path(rest: str) -> tuple[int | None, int, str]:
    authority, slash, path = rest.partition("/")
    if not slash or not path:
        raise ValueError("the path is missing")
    cid, port = _split_cid_port(authority)
    # "/Users/x" stays absolute; "/./state" and "/../state" are relative.
    relative = path.startswith(("./", "../"))
    return cid, port, path if relative else "/" + path


def server_endpoint(reactor: Any, text: str) -> IStreamServerEndpoint:
    """
    A server endpoint for a URI above or any Twisted server endpoint string
    (``tcp:8080``, ``vsock:port=80``, ...).

    :raises ValueError: for a malformed URI or endpoint string.
    """
    if not is_uri(text):
        endpoint: IStreamServerEndpoint = serverFromString(reactor, text)  # type: ignore[no-untyped-call]
        return endpoint
    uri = parse_uri(text)
    if isinstance(uri, VSockURI):
        from .endpoints import VSockServerEndpoint

        cid = CID_ANY if uri.cid is None else uri.cid
        return VSockServerEndpoint(reactor, uri.port, cid=cid)
    if isinstance(uri, HyperVURI):
        from .hyperv_endpoints import HyperVServerEndpoint

        if uri.vm_id is None:
            raise ValueError(
                f"{text!r}: a server listens for a VM ID or one of "
                f"{', '.join(VM_NAMES)}, not a VM's name"
            )
        return HyperVServerEndpoint(reactor, uri.service_id, vm_id=uri.vm_id)
    return _uds_server_endpoint(reactor, uri, text)


def client_endpoint(reactor: Any, text: str) -> IStreamClientEndpoint:
    """
    A client endpoint for a URI above or any Twisted client endpoint string
    (``tcp:localhost:8080``, ``vsock:cid=3:port=80``, ...).

    :raises ValueError: for a malformed URI or endpoint string, or a vsock
        URI without a CID.
    """
    if not is_uri(text):
        endpoint: IStreamClientEndpoint = clientFromString(reactor, text)  # type: ignore[no-untyped-call]
        return endpoint
    uri = parse_uri(text)
    if isinstance(uri, VSockURI):
        from .endpoints import VSockClientEndpoint

        if uri.cid is None:
            raise ValueError(
                f"{text!r} names no CID to connect to; expected vsock://<cid>:<port>"
            )
        return VSockClientEndpoint(reactor, uri.cid, uri.port)
    if isinstance(uri, HyperVURI):
        from .hyperv_endpoints import HyperVClientEndpoint

        vm: uuid.UUID | str = uri.vm_id or uri.vm_name or ""
        return HyperVClientEndpoint(reactor, vm, uri.service_id)
    return _uds_client_endpoint(reactor, uri)


def _uds_server_endpoint(
    reactor: Any, uri: HyperkitURI | HybridVSockURI, text: str
) -> IStreamServerEndpoint:
    if isinstance(uri, HybridVSockURI):
        from .hybrid_vsock import HybridVSockServerEndpoint

        return HybridVSockServerEndpoint(reactor, uri.path, uri.port)
    from .hyperkit import HyperkitServerEndpoint

    if uri.cid not in (None, CID_HOST):
        raise ValueError(
            f"{text!r} names CID {uri.cid}; a hyperkit listener is the host's "
            "(CID 2): expected hyperkit://:<port>/<path>"
        )
    return HyperkitServerEndpoint(reactor, uri.path, uri.port)


def _uds_client_endpoint(
    reactor: Any, uri: HyperkitURI | HybridVSockURI
) -> IStreamClientEndpoint:
    if isinstance(uri, HybridVSockURI):
        from .hybrid_vsock import HybridVSockClientEndpoint

        return HybridVSockClientEndpoint(reactor, uri.path, uri.port)
    from .hyperkit import GUEST_CID, HyperkitClientEndpoint

    cid = GUEST_CID if uri.cid is None else uri.cid
    return HyperkitClientEndpoint(reactor, uri.path, uri.port, cid=cid)
