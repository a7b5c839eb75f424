"""
The URIs that ocaml-hvsock and linuxkit/virtsock users type, and the one
function every tool uses to turn a user's address, URI or Twisted endpoint
string, into an endpoint.

A URI becomes an endpoint string (:func:`server_string`,
:func:`client_string`), which Twisted's ``serverFromString`` or
``clientFromString`` turns into an endpoint: the endpoint-string parsers
(:mod:`twisted_hvsock.parsers`) are the one registry of backends, and a
backend's URI scheme is one entry in ``_SCHEMES`` here. The vsock and
Hyper-V URI grammars live with their addresses
(:func:`~twisted_hvsock.address.split_vsock_uri`,
:func:`~twisted_hvsock.hyperv_ids.split_hvsock_uri`), so that
``VSockAddress.from_uri`` and ``HyperVAddress.from_uri`` read URIs as this
module does.

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

URIs take no options: the forms are ocaml-hvsock's and linuxkit/virtsock's,
which have none, and the endpoint strings already say every option as short
(``vsock:3:80:type=seqpacket``). A ``vsock://`` or ``hvsock://`` URI with a
query (``vsock://3:80?type=seqpacket``) is refused with the endpoint string
that says it; ``hyperkit://`` and ``hybridvsock://`` URIs end in a path, in
which a ``?`` is part of a file's name.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from twisted.internet.endpoints import (
    clientFromString,
    quoteStringArgument,
    serverFromString,
)
from twisted.internet.interfaces import (
    IReactorCore,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)

from .address import CID_HOST, VSOCK_URI_FORM, split_vsock_authority, split_vsock_uri
from .hyperv_ids import HVSOCK_URI_FORM, VM_NAMES, split_hvsock_uri

__all__ = [
    "HybridVSockURI",
    "HyperVURI",
    "HyperkitURI",
    "VSockURI",
    "client_endpoint",
    "client_string",
    "parse_uri",
    "server_endpoint",
    "server_string",
]

# Twisted leaves these unannotated; their types, once, instead of ignoring
# each call.
_quote: Callable[[str], str] = quoteStringArgument
_server_from_string: Callable[[Any, str], IStreamServerEndpoint] = serverFromString
_client_from_string: Callable[[Any, str], IStreamClientEndpoint] = clientFromString

_URI = re.compile(r"^(?P<scheme>[a-z]+)://")
#: The schemes in whose URIs no ``?`` can be part of an address.
_NO_PATH = frozenset({"vsock", "hvsock"})


def _endpoint_string(prefix: str, **options: object) -> str:
    """An endpoint string: each value quoted, the options that are None left out."""
    given = [
        f"{name}={_quote(str(value))}"
        for name, value in options.items()
        if value is not None
    ]
    return ":".join([prefix, *given])


@dataclass(frozen=True)
class VSockURI:
    """``vsock://[<cid>]:<port>``; ``cid`` is ``None`` when left out."""

    form: ClassVar[str] = VSOCK_URI_FORM

    cid: int | None
    port: int

    @classmethod
    def parse(cls, text: str) -> VSockURI:
        """Parse ``text``, a URI of this scheme (see :func:`parse_uri`)."""
        return cls(*split_vsock_uri(text))

    def server_string(self) -> str:
        """The endpoint string to listen on: every CID unless one is named."""
        return _endpoint_string("vsock", port=self.port, cid=self.cid)

    def client_string(self) -> str:
        """
        The endpoint string to connect with.

        :raises ValueError: if the URI names no CID.
        """
        if self.cid is None:
            raise ValueError(
                "the URI names no CID to connect to; expected vsock://<cid>:<port>"
            )
        return _endpoint_string("vsock", cid=self.cid, port=self.port)


@dataclass(frozen=True)
class HyperVURI:
    """
    ``hvsock://<vm>/<service>``: ``vm_id`` is set for a GUID or a well-known
    name, ``vm_name`` for a VM's display name (resolved on a Windows host).
    """

    form: ClassVar[str] = HVSOCK_URI_FORM

    vm_id: uuid.UUID | None
    vm_name: str | None
    service_id: uuid.UUID

    @classmethod
    def parse(cls, text: str) -> HyperVURI:
        """Parse ``text``, a URI of this scheme (see :func:`parse_uri`)."""
        vm, service_id = split_hvsock_uri(text)
        if isinstance(vm, uuid.UUID):
            return cls(vm, None, service_id)
        return cls(None, vm, service_id)

    def server_string(self) -> str:
        """
        The endpoint string to listen on.

        :raises ValueError: if the URI names a VM by its display name.
        """
        if self.vm_id is None:
            raise ValueError(
                f"a server listens for a VM ID or one of {', '.join(VM_NAMES)}, "
                "not a VM's name"
            )
        return _endpoint_string("hvsock", service=self.service_id, vm=self.vm_id)

    def client_string(self) -> str:
        """The endpoint string to connect with."""
        vm = self.vm_name if self.vm_id is None else self.vm_id
        return _endpoint_string("hvsock", vm=vm, service=self.service_id)


def _split_port_and_path(form: str, text: str) -> tuple[int | None, int, str]:
    """The CID, port and path of ``<scheme>://[<cid>]:<port>/<path>``."""
    authority, slash, path = text.partition("://")[2].partition("/")
    try:
        if not slash or not path:
            raise ValueError("the path is missing")
        cid, port = split_vsock_authority(authority)
    except ValueError as e:
        raise ValueError(f"expected {form}, got {text!r}: {e}") from None
    # "/Users/x" stays absolute; "/./state" and "/../state" are relative.
    relative = path.startswith(("./", "../"))
    return cid, port, path if relative else "/" + path


@dataclass(frozen=True)
class HyperkitURI:
    """``hyperkit://[<cid>]:<port>/<path>``."""

    form: ClassVar[str] = "hyperkit://[<cid>]:<port>/<state directory>"

    cid: int | None
    port: int
    path: str

    @classmethod
    def parse(cls, text: str) -> HyperkitURI:
        """Parse ``text``, a URI of this scheme (see :func:`parse_uri`)."""
        return cls(*_split_port_and_path(cls.form, text))

    def server_string(self) -> str:
        """
        The endpoint string to listen on, as the host (CID 2).

        :raises ValueError: if the URI names another CID.
        """
        if self.cid not in (None, CID_HOST):
            raise ValueError(
                f"the URI names CID {self.cid}; a hyperkit listener is the host's "
                "(CID 2): expected hyperkit://:<port>/<path>"
            )
        return _endpoint_string("hyperkit", path=self.path, port=self.port)

    def client_string(self) -> str:
        """The endpoint string to connect with, to guest CID 3 unless named."""
        return _endpoint_string(
            "hyperkit", path=self.path, port=self.port, cid=self.cid
        )


@dataclass(frozen=True)
class HybridVSockURI:
    """``hybridvsock://:<port>/<path>``."""

    form: ClassVar[str] = "hybridvsock://:<port>/<socket path>"

    port: int
    path: str

    @classmethod
    def parse(cls, text: str) -> HybridVSockURI:
        """Parse ``text``, a URI of this scheme (see :func:`parse_uri`)."""
        cid, port, path = _split_port_and_path(cls.form, text)
        if cid is not None:
            raise ValueError(
                f"expected {cls.form}, got {text!r}: a hybridvsock URI names no CID"
            )
        return cls(port, path)

    def server_string(self) -> str:
        """The endpoint string to listen on (the VMM connects to it)."""
        return _endpoint_string("hybridvsock", path=self.path, port=self.port)

    def client_string(self) -> str:
        """The endpoint string to connect with (through the VMM's socket)."""
        return _endpoint_string("hybridvsock", path=self.path, port=self.port)


AnyURI = VSockURI | HyperVURI | HyperkitURI | HybridVSockURI

# Each URI scheme and the class that parses it and writes its endpoint
# strings.
_SCHEMES: dict[str, type[AnyURI]] = {
    "vsock": VSockURI,
    "hvsock": HyperVURI,
    "hyperkit": HyperkitURI,
    "hybridvsock": HybridVSockURI,
}


def is_uri(text: str) -> bool:
    """Whether ``text`` uses one of the URI schemes above."""
    match = _URI.match(text)
    return match is not None and match["scheme"] in _SCHEMES


def parse_uri(text: str) -> AnyURI:
    """
    Parse one of the URIs above.

    :raises ValueError: saying which form was expected.
    """
    match = _URI.match(text)
    if match is None or match["scheme"] not in _SCHEMES:
        forms = "; ".join(uri.form for uri in _SCHEMES.values())
        raise ValueError(f"expected a URI of one of the forms {forms}; got {text!r}")
    query = _split_query(text)[1]
    if query:
        raise _no_options(text, query, None)
    return _SCHEMES[match["scheme"]].parse(text)


def _split_query(text: str) -> tuple[str, str]:
    """A ``vsock://`` or ``hvsock://`` URI and its query, ``""`` when it has none."""
    match = _URI.match(text)
    if match is None or match["scheme"] not in _NO_PATH:
        return text, ""
    uri, _, query = text.partition("?")
    return uri, query


def _no_options(text: str, query: str, instead: str | None) -> ValueError:
    """
    Why ``text``, a URI with the query ``query``, is refused; ``instead`` is
    the endpoint string that says the same, when the rest of ``text`` is a
    URI.
    """
    if instead is None:
        scheme = text.partition("://")[0]
        where = f"a {scheme}: endpoint string"
    else:
        where = f"an endpoint string: {instead}"
    return ValueError(
        f"{text!r}: a URI takes no options (?{query}); give them in {where}"
    )


def server_string(text: str) -> str:
    """
    The endpoint string to listen on for ``text``, a URI above; any other
    text is taken to be an endpoint string already and returned as it is.

    :raises ValueError: for a malformed URI, or one no server can listen on.
    """
    return _endpoint_string_for(text, lambda uri: uri.server_string())


def client_string(text: str) -> str:
    """
    The endpoint string to connect with for ``text``, a URI above; any other
    text is taken to be an endpoint string already and returned as it is.

    :raises ValueError: for a malformed URI, or one no client can connect to.
    """
    return _endpoint_string_for(text, lambda uri: uri.client_string())


def _endpoint_string_for(text: str, role: Callable[[AnyURI], str]) -> str:
    if not is_uri(text):
        return text
    without_query, query = _split_query(text)
    if query:
        instead: str | None
        try:
            instead = ":".join([role(parse_uri(without_query)), *query.split("&")])
        except ValueError:
            instead = None  # the rest is no URI either: say what fits
        raise _no_options(text, query, instead)
    uri = parse_uri(text)
    try:
        return role(uri)
    except ValueError as e:
        raise ValueError(f"{text!r}: {e}") from None


def server_endpoint(reactor: IReactorCore, text: str) -> IStreamServerEndpoint:
    """
    A server endpoint for a URI above or any Twisted server endpoint string
    (``tcp:8080``, ``vsock:port=80``, ...).

    :raises ValueError: for a malformed URI or endpoint string, whatever
        Twisted's own parsers raise for it, or an option given twice.
    """
    description = server_string(text)
    return _built(text, lambda: _server_from_string(reactor, description))


def client_endpoint(reactor: IReactorCore, text: str) -> IStreamClientEndpoint:
    """
    A client endpoint for a URI above or any Twisted client endpoint string
    (``tcp:localhost:8080``, ``vsock:cid=3:port=80``, ...).

    :raises ValueError: for a malformed URI or endpoint string, whatever
        Twisted's own parsers raise for it, an option given twice, or a vsock
        URI without a CID.
    """
    description = client_string(text)
    return _built(text, lambda: _client_from_string(reactor, description))


_Endpoint = TypeVar("_Endpoint")


def _built(text: str, build: Callable[[], _Endpoint]) -> _Endpoint:
    """
    ``build()``, with every failure to build the endpoint for ``text`` a
    ``ValueError``: Twisted's tokenizer raises ``RuntimeError`` for a trailing
    backslash and ``UnicodeEncodeError`` for a non-ASCII option name, and
    Twisted's parsers ``TypeError`` for a missing argument.
    """
    repeated = repeated_option(text)
    if repeated is not None:
        raise ValueError(f"{repeated} is given twice in {text!r}")
    try:
        return build()
    except ValueError as e:
        if not isinstance(e, UnicodeError):
            raise
        raise ValueError(
            f"{text!r} is not a usable endpoint: option names and values must "
            f"be ASCII or escaped ({e})"
        ) from e
    except Exception as e:
        if isinstance(e, RuntimeError) and text.endswith("\\"):
            why = "it ends in a backslash, which escapes nothing"
        else:
            why = str(e) or type(e).__name__
        raise ValueError(f"{text!r} is not a usable endpoint: {why}") from e


def repeated_option(description: str) -> str | None:
    """
    The first option named twice in an endpoint string (Twisted keeps the
    last silently), or ``None``.
    """
    seen: set[str] = set()
    for part in _unescaped_split(description, ":")[1:]:
        pieces = _unescaped_split(part, "=", 1)
        if len(pieces) < 2:
            continue  # a positional argument
        name = pieces[0]
        if name in seen:
            return name
        seen.add(name)
    return None


def _unescaped_split(text: str, separator: str, most: int = -1) -> list[str]:
    """Split ``text`` at the ``separator`` characters no backslash escapes."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for character in text:
        if escaped:
            current.append("\\" + character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == separator and (most < 0 or len(parts) < most):
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    parts.append("".join(current))
    return parts
