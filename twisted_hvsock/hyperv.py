"""
Endpoints for Hyper-V sockets, addressed by VM ID and service ID.

On a Windows host (Python 3.12 or later) they use AF_HYPERV sockets, which
Windows cannot poll, on the thread-backed I/O engine. Inside a Linux guest on
Hyper-V the same addresses reach the host through AF_VSOCK: the parent
partition is CID 2, loopback is CID 1, and a service ID made from the Linux
template (``<port>-facb-11e6-bd58-64006a7986d3``) is that vsock port. So one
``hvsock:`` endpoint string serves both sides.

Most users build these through endpoint strings, whose parsers are declared
at the end of this module (see ``docs/hyperv.rst``)::

    hvsock:service=5000           listen: the Linux template's service for port 5000
    hvsock:service=3049197c-9a4e-4fbf-9367-97f792f16994:vm=children
    hvsock:service=5000:allow=parent    only the host may connect
    hvsock:vm=MyVM:service=5000   connect: a VM by name (looked up on the Windows host)
    hvsock:vm=parent:service=5000:timeout=5      from a guest, to the host
    hvsock:vm=1b4e28ba-2fa1-11d2-883f-0016d3cca427:service=5000:suspend=true
"""

from __future__ import annotations

import functools
import uuid
from typing import cast

from twisted.internet import defer
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IReactorCore,
    IReactorFDSet,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._checks import (
    IOEngine,
    SocketType,
    check_backlog,
    check_io,
    check_socket_type,
    check_timeout,
)
from ._engines import gated, hyperv_engine
from ._in_thread import in_thread, names_resolved
from ._not_ready import hyperv_not_ready
from ._options import (
    BACKLOG,
    IO,
    TIMEOUT,
    TYPE,
    WAIT,
    ClientStringParser,
    Grammar,
    Option,
    ServerStringParser,
    parse_boolean,
)
from ._sockets.hyperv import hyperv_backend, unavailable_error
from ._waiting import check_wait, connect_within
from .address import CID_ANY, CID_HOST, CID_LOCAL
from .allow import VM_ALLOW_FORMS, PeerAllowList, check_allow, parse_vm_allow
from .hyperv_ids import (
    VM_LOOPBACK,
    VM_NAMES,
    VM_PARENT,
    VM_WILDCARD,
    HyperVAddress,
    parse_service_id,
    parse_vm_id,
    port_for_service_id,
    service_id_for_port,
)
from .hyperv_vm_names import resolve_vm_name
from .vsock import VSockClientEndpoint, VSockServerEndpoint

__all__ = [
    "HyperVClientEndpoint",
    "HyperVClientParser",
    "HyperVServerEndpoint",
    "HyperVServerParser",
]

#: Hyper-V sockets, which carry only streams, as ``type=seqpacket``'s
#: refusal names them: AF_HYPERV on Windows; in a Linux guest, AF_VSOCK's
#: Hyper-V transport, which has no SOCK_SEQPACKET either.
_STREAMS_ONLY = "Hyper-V (AF_HYPERV, and AF_VSOCK over Hyper-V)"

# What a Linux guest's AF_VSOCK can stand in for.
_GUEST_LISTEN_CIDS = {VM_WILDCARD: CID_ANY, VM_LOOPBACK: CID_LOCAL}
_GUEST_CONNECT_CIDS = {VM_PARENT: CID_HOST, VM_LOOPBACK: CID_LOCAL}


def _vm_label(vm_id: uuid.UUID) -> str:
    for name, named in VM_NAMES.items():
        if named == vm_id:
            return f"{name} ({vm_id})"
    return str(vm_id)


def _check_service_id(service_id: object) -> uuid.UUID:
    """A service given as a GUID, or as a vsock port the template turns into one."""
    if isinstance(service_id, uuid.UUID):
        return service_id
    if isinstance(service_id, int) and not isinstance(service_id, bool):
        return service_id_for_port(service_id)
    raise ValueError(
        f"service_id must be a uuid.UUID or a vsock port number, got {service_id!r}"
    )


def _guest_port(service_id: uuid.UUID) -> int:
    try:
        return port_for_service_id(service_id)
    except ValueError as e:
        raise ValueError(
            f"service: {e}; inside a Linux guest only those reach AF_VSOCK"
        ) from None


def _guest_cid(vm_id: uuid.UUID, cids: dict[uuid.UUID, int], role: str) -> int:
    if vm_id not in cids:
        accepted = " or ".join(_vm_label(vm) for vm in cids)
        raise ValueError(
            f"vm: a Linux guest {role} through AF_VSOCK only with vm {accepted}, "
            f"got {_vm_label(vm_id)}"
        )
    return cids[vm_id]


def _guest_allow(allow: PeerAllowList | None) -> PeerAllowList | None:
    """
    A Hyper-V allow-list as the CIDs a Linux guest's AF_VSOCK peers have:
    the parent partition is CID 2, loopback CID 1; a guest has no others.
    """
    if allow is None:
        return None
    if allow.vm_names:
        raise ValueError(
            f"allow: VM names such as {min(allow.vm_names)!r} are looked up on "
            "the Windows host; a Linux guest's peers are only parent or loopback"
        )
    unknown = [vm for vm in allow.vm_ids if vm not in _GUEST_CONNECT_CIDS]
    if unknown:
        accepted = " or ".join(_vm_label(vm) for vm in _GUEST_CONNECT_CIDS)
        raise ValueError(
            f"allow: a Linux guest's peers are only {accepted}, "
            f"got {_vm_label(unknown[0])}"
        )
    cids = sorted(_GUEST_CONNECT_CIDS[vm] for vm in allow.vm_ids)
    return PeerAllowList(cid_ranges=tuple((cid, cid) for cid in cids))


def _resolve_vm_ids(allow: PeerAllowList) -> PeerAllowList:
    return allow.resolved(functools.partial(resolve_vm_name, option="allow"))


def _any_reactor(reactor: IReactorCore) -> IReactorFDSet:
    """
    ``reactor`` as the vsock endpoints' type: in a Linux guest, where the
    Hyper-V names map onto AF_VSOCK, those endpoints poll where the reactor
    can and use threads where it cannot (``_checks.check_io``), so any
    reactor serves; only the static type is narrower.
    """
    return cast(IReactorFDSet, reactor)


@implementer(IStreamServerEndpoint)
class HyperVServerEndpoint:
    """
    Listens for Hyper-V socket connections to a service.

    :param reactor: the reactor.
    :param service_id: the service to listen on: a GUID, or a vsock port
        (which becomes the Linux template's GUID for that port).
    :param vm_id: whose connections to accept: :data:`VM_WILDCARD` (every
        partition, the default), :data:`VM_CHILDREN`, :data:`VM_LOOPBACK`,
        :data:`VM_PARENT` or one VM's ID. In a Linux guest only the wildcard
        (AF_VSOCK's any CID) and loopback (CID 1) have a meaning.
    :param backlog: how many connections the kernel queues before accepting;
        by default the longest queue it allows (``net.core.somaxconn``).
    :param io: the I/O engine. AF_HYPERV sockets always use ``"threads"``;
        in a Linux guest, as for ``vsock:``, ``"reactor"`` is the default.
    :param allow: the peers to accept, as a
        :class:`~twisted_hvsock.allow.PeerAllowList` of VM IDs or its text
        (``"parent"``, ``"<GUID>,loopback"``; see
        :func:`~twisted_hvsock.allow.parse_vm_allow`). A connection from any
        other VM is closed before a protocol is built, logged, and counted
        in the listening port's ``refused``. VM names are looked up once,
        when listening starts (this needs Hyper-V's PowerShell module and
        Administrator rights, as for a client's VM name); a VM renamed later
        is still the VM it was. In a Linux guest only ``parent`` (CID 2)
        and ``loopback`` (CID 1) can be peers. By default every peer is
        accepted.
    :param type: only ``"stream"``: Hyper-V sockets carry no messages
        (``"seqpacket"`` is refused, naming ``vsock:``, which has them).
    :raises ValueError: naming the argument that is out of range, or that a
        Linux guest cannot express.
    """

    def __init__(
        self,
        reactor: IReactorCore,
        service_id: uuid.UUID | int,
        vm_id: uuid.UUID = VM_WILDCARD,
        backlog: int | None = None,
        io: IOEngine | None = None,
        allow: PeerAllowList | str | None = None,
        type: SocketType = "stream",
    ) -> None:
        check_socket_type(type, family=_STREAMS_ONLY)
        self._reactor = reactor
        self._service_id = _check_service_id(service_id)
        if not isinstance(vm_id, uuid.UUID):
            raise ValueError(f"vm_id must be a uuid.UUID, got {vm_id!r}")
        self._vm_id = vm_id
        self._backlog = check_backlog(backlog)
        self._allow = check_allow(allow, hyperv=True)
        self._backend = hyperv_backend()
        self._vsock: VSockServerEndpoint | None = None
        if self._backend == "af_vsock":
            self._vsock = VSockServerEndpoint(
                _any_reactor(reactor),
                _guest_port(self._service_id),
                cid=_guest_cid(vm_id, _GUEST_LISTEN_CIDS, "listens"),
                backlog=self._backlog,
                io=io,
                allow=_guest_allow(self._allow),
            )
        else:
            check_io(io, reactor, pollable=False)

    def __repr__(self) -> str:
        return f"<HyperVServerEndpoint {HyperVAddress(self._vm_id, self._service_id)}>"

    @property
    def service_id(self) -> uuid.UUID:
        """The service listened on."""
        return self._service_id

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening.

        :return: a Deferred firing with the listening port, or failing with
            ``CannotListenError`` that says why, ``HyperVUnavailableError``,
            or, for a VM name in ``allow``, ``ValueError`` (no such VM) or
            ``HyperVAdminRequiredError``.
        """
        if self._vsock is not None:
            return self._vsock.listen(protocolFactory)
        if self._backend is None:
            return defer.fail(unavailable_error())
        resolving = names_resolved(self._reactor, self._allow, _resolve_vm_ids)
        return resolving.addCallback(self._listen_with, protocolFactory)

    def _listen_with(
        self, allow: PeerAllowList | None, protocolFactory: IProtocolFactory
    ) -> IListeningPort:
        return hyperv_engine().listen_hyperv(
            self._reactor,
            gated(protocolFactory, allow),
            address=HyperVAddress(self._vm_id, self._service_id),
            backlog=self._backlog,
        )


@implementer(IStreamClientEndpoint)
class HyperVClientEndpoint:
    """
    Connects to a service of a VM (or, from a VM, of its host) over a
    Hyper-V socket.

    :param reactor: the reactor.
    :param vm: the VM's ID, a well-known ID such as :data:`VM_PARENT` or
        :data:`VM_LOOPBACK` (or its name, ``"parent"``), or, as any other
        ``str``, the VM's display name, which is looked up on the Windows
        host when connecting (this needs Hyper-V's PowerShell module and
        Administrator rights).
    :param service_id: the service: a GUID, or a vsock port (which becomes
        the Linux template's GUID for that port).
    :param timeout: seconds to wait for the connection; also handed to
        Windows as ``HVSOCKET_CONNECT_TIMEOUT``.
    :param suspend: keep the connection open while the VM is paused
        (``HVSOCKET_CONNECTED_SUSPEND``, Windows only).
    :param io: the I/O engine. AF_HYPERV sockets always use ``"threads"``;
        in a Linux guest, as for ``vsock:``, ``"reactor"`` is the default.
    :param wait: keep trying, for up to this many seconds from the first
        attempt, while the service refuses or the connect times out (the VM
        still booting); a VM name is looked up once, before the first
        attempt. By default one attempt.
    :param type: only ``"stream"``, as for :class:`HyperVServerEndpoint`.
    :raises ValueError: naming the argument that is out of range, or that a
        Linux guest cannot express.
    """

    def __init__(
        self,
        reactor: IReactorCore,
        vm: uuid.UUID | str,
        service_id: uuid.UUID | int,
        timeout: float = 30,
        suspend: bool = False,
        io: IOEngine | None = None,
        wait: float | None = None,
        type: SocketType = "stream",
    ) -> None:
        check_socket_type(type, family=_STREAMS_ONLY)
        self._reactor = reactor
        if isinstance(vm, str):
            if not vm or "\0" in vm:
                raise ValueError(f"vm must be a VM ID or a VM's name, got {vm!r}")
            vm = VM_NAMES.get(vm.lower(), vm)
        elif not isinstance(vm, uuid.UUID):
            raise ValueError(f"vm must be a uuid.UUID or a VM's name, got {vm!r}")
        self._vm = vm
        self._service_id = _check_service_id(service_id)
        self._timeout = check_timeout(timeout)
        if not isinstance(suspend, bool):
            raise ValueError(f"suspend must be True or False, got {suspend!r}")
        self._suspend = suspend
        self._wait = check_wait(wait)
        self._backend = hyperv_backend()
        self._vsock: VSockClientEndpoint | None = None
        if self._backend == "af_vsock":
            if isinstance(vm, str):
                raise ValueError(
                    f"vm: VM names such as {vm!r} are looked up on the Windows "
                    "host; a Linux guest connects to vm=parent (the host) or "
                    "vm=loopback"
                )
            if suspend:
                raise ValueError(
                    "suspend: HVSOCKET_CONNECTED_SUSPEND is a Windows socket "
                    "option; AF_VSOCK in a Linux guest has none"
                )
            self._vsock = VSockClientEndpoint(
                _any_reactor(reactor),
                _guest_cid(vm, _GUEST_CONNECT_CIDS, "connects"),
                _guest_port(self._service_id),
                timeout=self._timeout,
                io=io,
                wait=self._wait,
            )
        else:
            check_io(io, reactor, pollable=False)

    def __repr__(self) -> str:
        return f"<HyperVClientEndpoint hvsock://{self._vm}/{self._service_id}>"

    @property
    def service_id(self) -> uuid.UUID:
        """The service connected to."""
        return self._service_id

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect.

        :return: a Deferred firing with the connected protocol, or failing
            with ``ConnectionRefusedError`` (nothing listens there),
            ``TimeoutError``, ``NoRouteError``, ``HyperVUnavailableError``,
            or, for a VM name, ``ValueError`` (no such VM) or
            ``HyperVAdminRequiredError``.
        """
        if self._vsock is not None:
            return self._vsock.connect(protocolFactory)
        if self._backend is None:
            return defer.fail(unavailable_error())
        if isinstance(self._vm, uuid.UUID):
            return self._connect_to(self._vm, protocolFactory)
        resolving = in_thread(self._reactor, resolve_vm_name, self._vm)
        return resolving.addCallback(self._connect_to, protocolFactory)

    def _connect_to(
        self, vm_id: uuid.UUID, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IProtocol]:
        address = HyperVAddress(vm_id, self._service_id)

        def connect_once(factory: IProtocolFactory) -> defer.Deferred[IProtocol]:
            return hyperv_engine().connect_hyperv(
                self._reactor,
                factory,
                address=address,
                timeout=self._timeout,
                suspend=self._suspend,
            )

        return connect_within(
            self._reactor,
            connect_once,
            protocolFactory,
            wait=self._wait,
            retryable=hyperv_not_ready,
            target=str(address),
        )


_VM_FORMS = f"a GUID or {'|'.join(VM_NAMES)}"


def _parse_client_vm(text: str, name: str) -> uuid.UUID | str:
    """A VM ID or a well-known VM name, or else a VM's display name."""
    if not text.strip():
        raise ValueError(f"{name} must be {_VM_FORMS}, or a VM's name, got {text!r}")
    try:
        return parse_vm_id(text, name)
    except ValueError:
        return text


_SERVICE = Option(
    "service", parse_service_id, "<GUID|port>", positional=True, argument="service_id"
)
# Declared to refuse seqpacket with a reason, not as an unknown option.
_TYPE = Option("type", TYPE.parse, "stream", default="stream")


class HyperVServerParser(ServerStringParser):
    """The ``hvsock:`` prefix for ``serverFromString``."""

    grammar = Grammar(
        "hvsock",
        HyperVServerEndpoint,
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
            BACKLOG,
            IO,
            Option("allow", parse_vm_allow, "<vms>", default=None, note=VM_ALLOW_FORMS),
            _TYPE,
        ),
    )


class HyperVClientParser(ClientStringParser):
    """The ``hvsock:`` prefix for ``clientFromString``."""

    grammar = Grammar(
        "hvsock",
        HyperVClientEndpoint,
        (
            Option(
                "vm",
                _parse_client_vm,
                "<vm>",
                positional=True,
                note=f"{_VM_FORMS}, or a VM's name",
            ),
            _SERVICE,
            TIMEOUT,
            Option("suspend", parse_boolean, "true|false", default=False),
            IO,
            WAIT,
            _TYPE,
        ),
    )
