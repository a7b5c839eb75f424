"""
Twisted endpoints for Linux AF_VSOCK sockets.

Most users never import this module: ``serverFromString(reactor,
"vsock:port=5000")`` and ``clientFromString(reactor, "vsock:cid=3:port=5000")``
build these endpoints through the ``vsock`` plugin, whose parsers are
declared at the end of this module, beside what they build.

Server strings::

    vsock:5000                    listen on port 5000, every CID
    vsock:port=5000:backlog=128
    vsock:port=0                  any free port
    vsock:port=5000:cid=local     only connections to CID 1
    vsock:port=5000:io=threads    blocking I/O on threads of its own
    vsock:port=5000:allow=3,5-9   only peers with CID 3 or 5 to 9
    vsock:port=5000:privileged=yes    only peers from reserved ports (root)
    vsock:systemd=0               the first socket systemd passed (or a name)
    vsock:fd=3                    an inherited listening socket
    vsock:443:privateKey=key.pem:certKey=cert.pem    TLS, as Twisted's ssl:
    vsock:5000:type=seqpacket     messages (SOCK_SEQPACKET), not a stream

Client strings::

    vsock:3:5000                  connect to CID 3, port 5000
    vsock:cid=host:port=5000:timeout=5
    vsock:3:5000:io=threads
    vsock:3:443:tls=yes:hostname=web.example:trustRoots=ca.pem
    vsock:3:5000:wait=60          keep trying for 60 s while the guest boots
    vsock:3:5000:type=seqpacket   messages (SOCK_SEQPACKET), not a stream
    vsock:vm=web:5000             the VM libvirt or systemd-machined names "web"
    vsock:3:5000:bind=privileged  from a reserved port (root), for privileged=yes
    vsock:3:5000:bind=1000        from port 1000
    vsock:4:5000:tohost=yes       through the host (VMADDR_FLAG_TO_HOST): a sibling VM

Every endpoint runs its sockets on one of two I/O engines (see
``docs/io-engines.rst``): ``"reactor"``, the reactor polls non-blocking
sockets as it does TCP's; ``"threads"``, blocking sockets with each
connection's reads and writes on threads of its own, for sockets that cannot
be polled.

With ``type=seqpacket`` a connection carries messages instead of a stream
(see ``docs/endpoint-strings.rst``, "Messages"): each ``write`` is one
message and each ``dataReceived`` one whole message, and the transport
provides :class:`~twisted_hvsock.interfaces.IMessageTransport`.
"""

from __future__ import annotations

import functools
from typing import cast

from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IReactorFDSet,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._activation import inherited_listeners, systemd_descriptor
from ._checks import (
    IOEngine,
    SocketType,
    check_backlog,
    check_io,
    check_socket_type,
    check_timeout,
)
from ._engines import engine, gated
from ._in_thread import in_thread, names_resolved
from ._not_ready import vsock_not_ready
from ._options import (
    BACKLOG,
    CID_NOTE,
    IO,
    PORT,
    TIMEOUT,
    TYPE,
    WAIT,
    ClientStringParser,
    Grammar,
    Option,
    ServerStringParser,
    parse_boolean,
    parse_connecting_cid,
    parse_descriptor,
    parse_listening_cid,
    parse_text,
)
from ._sockets.vsock import (
    VSockListening,
    adopt_listening_vsock,
    check_buffer,
    parse_buffer,
    set_buffer_size,
)
from ._sockets.vsock_client import SourcePort, VSockTarget, check_bind, parse_bind
from ._waiting import check_wait, connect_within
from .address import CID_ANY, VSockAddress, check_cid, check_port
from .allow import CID_ALLOW_FORMS, PeerAllowList, check_allow, parse_cid_allow
from .linux_vm_names import (
    RESOLVERS,
    Resolver,
    check_resolver,
    check_vm_name,
    resolve_vm_cid,
)
from .tls import CLIENT_TLS, SERVER_TLS

__all__ = [
    "IOEngine",
    "VSockClientEndpoint",
    "VSockClientParser",
    "VSockServerEndpoint",
    "VSockServerParser",
]


def _resolve_cids(allow: PeerAllowList) -> PeerAllowList:
    return allow.resolved_cids(functools.partial(resolve_vm_cid, option="allow"))


@implementer(IStreamServerEndpoint)
class VSockServerEndpoint:
    """
    Listens for AF_VSOCK connections, on a new socket or on one this
    process inherited listening (socket activation).

    :param reactor: a reactor providing ``IReactorFDSet`` (every POSIX reactor).
    :param port: the port to listen on; 0 lets the kernel choose one, which
        the listening port's ``getHost()`` reports. Exactly one of ``port``,
        ``fd`` and ``systemd`` is given.
    :param cid: the CID to listen on; the default, :data:`CID_ANY`, accepts
        connections addressed to any of this machine's CIDs.
    :param backlog: how many connections the kernel queues before accepting;
        by default the longest queue it allows (``net.core.somaxconn``).
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :param allow: the peers to accept, as a
        :class:`~twisted_hvsock.allow.PeerAllowList` or its text (``"3,5-9"``,
        ``"host"``, ``"web"``; see
        :func:`~twisted_hvsock.allow.parse_cid_allow`). A connection from any
        other CID is closed before a protocol is built, logged, and counted
        in the listening port's ``refused``. VM names are looked up (in a
        thread) each time ``listen`` is called. By default every peer is
        accepted.
    :param fd: accept on this descriptor, a listening AF_VSOCK socket of
        ``type`` the process inherited (from a supervisor); the port takes
        it over. It is checked when listening: ``CannotListenError`` names
        ``fd`` if it is anything else.
    :param privileged: accept only peers whose source port is reserved
        (below 1024), which only root (``CAP_NET_BIND_SERVICE``) in the
        peer's machine can bind; with ``allow``, both must hold. Refused
        peers are logged and counted as ``allow``'s are.
    :param systemd: accept on a descriptor systemd passed (the
        ``sd_listen_fds`` protocol): its index from 0, or its name
        (``FileDescriptorName=``); checked as ``fd`` is.
    :param type: what connections carry: ``"stream"`` (the default,
        ``SOCK_STREAM``) or ``"seqpacket"``, messages that arrive whole
        (``SOCK_SEQPACKET``, Linux 5.14 or later).
    :param buffer: the buffer size of each connection in bytes
        (``SO_VM_SOCKETS_BUFFER_SIZE``, from 128 to 4294967295), set on the
        listening socket before it listens (or on the inherited one), which
        accepted connections inherit; by default the kernel's 256 KiB.
        See ``docs/endpoint-strings.rst`` for when a larger one helps.
    :raises ValueError: naming the argument that is out of range, or
        ``systemd`` when no such descriptor was passed.
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        port: int | None = None,
        cid: int = CID_ANY,
        backlog: int | None = None,
        io: IOEngine | None = None,
        allow: PeerAllowList | str | None = None,
        fd: int | None = None,
        systemd: int | str | None = None,
        privileged: bool = False,
        type: SocketType = "stream",
        buffer: int | None = None,
    ) -> None:
        self._reactor = reactor
        sources = {"port": port, "fd": fd, "systemd": systemd}
        given = [name for name, value in sources.items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "give one of port (to listen on), fd or systemd (to accept on "
                f"an inherited listening socket), got {' and '.join(given) or 'none'}"
            )
        self._fd: int | None = None
        self._option = ""
        if port is None and (cid != CID_ANY or backlog is not None):
            raise ValueError(
                f"cid and backlog: the socket {given[0]} names is bound and "
                "listening already; leave them out"
            )
        if fd is not None:
            if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
                raise ValueError(
                    f"fd must be a descriptor number, 0 or more, got {fd!r}"
                )
            self._fd, self._option = fd, f"fd={fd}"
        elif systemd is not None:
            self._fd = systemd_descriptor(str(systemd), inherited_listeners())
            self._option = f"systemd={systemd}"
        self._port = 0 if port is None else check_port(port)
        self._cid = check_cid(cid, allow_any=True)
        self._backlog = check_backlog(backlog)
        self._io = check_io(io, reactor)
        self._allow = check_allow(allow)
        if not isinstance(privileged, bool):
            raise ValueError(f"privileged must be True or False, got {privileged!r}")
        self._privileged = privileged
        self._type = check_socket_type(type)
        self._buffer = check_buffer(buffer)

    def __repr__(self) -> str:
        where = (
            self._option
            if self._fd is not None
            else VSockAddress(self._cid, self._port)
        )
        return f"<VSockServerEndpoint {where}{_type_suffix(self._type)}>"

    @property
    def socket_type(self) -> SocketType:
        """What the connections carry: ``"stream"`` or ``"seqpacket"``."""
        return self._type

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening.

        :return: a Deferred firing with the listening port, or failing with
            ``CannotListenError`` that says why; for VM names in ``allow``,
            ``ValueError`` (no such VM, not running, no vsock device) or
            ``VMLookupError``.
        """
        resolving = names_resolved(self._reactor, self._allow, _resolve_cids)
        return resolving.addCallback(self._listen_with, protocolFactory)

    def _listen_with(
        self, allow: PeerAllowList | None, protocolFactory: IProtocolFactory
    ) -> IListeningPort:
        return self._listen(gated(protocolFactory, allow, self._privileged))

    def _listen(self, factory: IProtocolFactory) -> IListeningPort:
        listening = engine(self._io)
        if self._fd is None:
            where = VSockListening(
                self._cid, self._port, self._backlog, self._type, buffer=self._buffer
            )
        else:
            try:
                skt = adopt_listening_vsock(self._fd, self._option, self._type)
                set_buffer_size(skt, self._buffer)
            except ValueError as e:
                cannot = error.CannotListenError(None, self._option, e)  # type: ignore[no-untyped-call]
                raise cannot from e
            where = VSockListening(
                self._cid, 0, 0, self._type, adopted=skt, option=self._option
            )
        return listening.listen_vsock(self._reactor, factory, where=where)


@implementer(IStreamClientEndpoint)
class VSockClientEndpoint:
    """
    Connects to an AF_VSOCK listener.

    :param reactor: a reactor providing ``IReactorFDSet`` and ``IReactorTime``.
    :param cid: the CID to connect to (:data:`CID_HOST` from a guest, the
        guest's CID from a host, :data:`CID_LOCAL` for this machine), or
        ``None`` with ``vm``.
    :param port: the port to connect to.
    :param timeout: seconds to wait for the connection, each attempt.
    :param io: the I/O engine, ``"reactor"`` or ``"threads"``; by default
        ``"reactor"``, unless the reactor cannot poll sockets.
    :param wait: keep trying, for up to this many seconds from the first
        attempt, while the connection is refused, reset or timed out, or no
        transport reaches the CID yet (a VM still booting); by default one
        attempt. See ``docs/endpoint-strings.rst``, "Waiting for the guest".
    :param vm: instead of ``cid``, the name of a VM on this Linux host, whose
        CID libvirt or systemd-machined is asked for each time ``connect``
        starts (in a thread; before the first attempt, with ``wait``); see
        :mod:`twisted_hvsock.linux_vm_names`.
    :param resolver: with ``vm``, ask only ``"libvirt"`` or
        ``"machined"``; by default libvirt, then systemd-machined.
    :param type: what the connection carries: ``"stream"`` (the default,
        ``SOCK_STREAM``) or ``"seqpacket"``, messages that arrive whole
        (``SOCK_SEQPACKET``, Linux 5.14 or later).
    :param bind: the source port to connect from: a port from 1 to
        4294967294, or ``"privileged"``, the highest reserved port (below
        1024) that is free, which a listener with ``privileged=yes`` asks
        for. Both need root or ``CAP_NET_BIND_SERVICE`` for a reserved port.
        By default the kernel picks an unreserved one.
    :param to_host: connect with ``VMADDR_FLAG_TO_HOST`` (Linux 5.11 or
        later): the connection goes to the host, which passes it on, even
        to a CID above 2 that this machine could reach itself (a sibling VM
        through a nested host, an enclave). See ``docs/endpoint-strings.rst``,
        "Who is on the other end", for when the flag decides.
    :param buffer: the connection's buffer size in bytes
        (``SO_VM_SOCKETS_BUFFER_SIZE``, from 128 to 4294967295), set before
        connecting; by default the kernel's 256 KiB. Each end's buffer holds
        what that end has yet to read.
    :raises ValueError: naming the argument that is out of range, or when
        not exactly one of ``cid`` and ``vm`` is given.
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        cid: int | None,
        port: int,
        timeout: float = 30,
        io: IOEngine | None = None,
        wait: float | None = None,
        vm: str | None = None,
        resolver: Resolver | None = None,
        type: SocketType = "stream",
        bind: SourcePort | None = None,
        to_host: bool = False,
        buffer: int | None = None,
    ) -> None:
        self._reactor = reactor
        if (cid is None) == (vm is None):
            raise ValueError(
                "give one of cid and vm (a VM's name, looked up when "
                f"connecting), got {'both' if vm is not None else 'neither'}"
            )
        self._cid = None if cid is None else check_cid(cid, allow_any=False)
        self._vm = None if vm is None else check_vm_name(vm)
        self._resolver = check_resolver(resolver)
        if self._resolver is not None and vm is None:
            raise ValueError("resolver chooses who looks vm up: give it with vm")
        self._port = check_port(port)
        self._timeout = check_timeout(timeout)
        self._io = check_io(io, reactor)
        self._wait = check_wait(wait)
        self._type = check_socket_type(type)
        self._bind = check_bind(bind)
        if not isinstance(to_host, bool):
            raise ValueError(f"to_host must be True or False, got {to_host!r}")
        self._to_host = to_host
        self._buffer = check_buffer(buffer)

    def __repr__(self) -> str:
        suffix = _type_suffix(self._type)
        if self._cid is None:
            return f"<VSockClientEndpoint vm={self._vm} port={self._port}{suffix}>"
        return f"<VSockClientEndpoint {VSockAddress(self._cid, self._port)}{suffix}>"

    @property
    def socket_type(self) -> SocketType:
        """What the connection carries: ``"stream"`` or ``"seqpacket"``."""
        return self._type

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect.

        :return: a Deferred firing with the connected protocol, or failing
            with ``ConnectionRefusedError`` (nothing listens there),
            ``TimeoutError``, ``NoRouteError`` (no transport reaches that CID)
            or ``VSockUnavailableError`` (no AF_VSOCK on this machine);
            with ``bind``, ``ConnectBindError`` (no capability for a
            reserved port, the port in use); with
            ``wait``, ``WaitTimeoutError`` once the wait is over; with
            ``vm``, ``ValueError`` (no such VM, not running, no vsock
            device) or ``VMLookupError`` (no way to look it up). Cancelling
            it stops the attempts.
        """
        if self._vm is None:
            # __init__ made sure one of cid and vm is given.
            return self._connect_to(cast(int, self._cid), protocolFactory)
        # Once per connect: a VM's CID can change when it boots again.
        resolving = in_thread(
            self._reactor, resolve_vm_cid, self._vm, resolver=self._resolver
        )
        return resolving.addCallback(self._connect_to, protocolFactory)

    def _connect_to(
        self, cid: int, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IProtocol]:
        named = "" if self._vm is None else f" (vm={self._vm})"
        return connect_within(
            self._reactor,
            functools.partial(self._connect_once, cid=cid),
            protocolFactory,
            wait=self._wait,
            retryable=vsock_not_ready,
            target=f"{VSockAddress(cid, self._port)}{named}",
        )

    def _connect_once(
        self, factory: IProtocolFactory, cid: int
    ) -> defer.Deferred[IProtocol]:
        target = VSockTarget(
            cid, self._port, self._type, self._bind, self._to_host, self._buffer
        )
        return engine(self._io).connect_vsock(
            self._reactor, factory, target=target, timeout=self._timeout
        )


def _type_suffix(socket_type: SocketType) -> str:
    return "" if socket_type == "stream" else f" type={socket_type}"


class VSockServerParser(ServerStringParser):
    """The ``vsock:`` prefix for ``serverFromString``."""

    grammar = Grammar(
        "vsock",
        VSockServerEndpoint,
        (
            # No port when an inherited socket (fd, systemd) is given.
            Option("port", PORT.parse, PORT.form, default=None, positional=True),
            Option("cid", parse_listening_cid, "<cid>", default=CID_ANY, note=CID_NOTE),
            BACKLOG,
            IO,
            Option(
                "allow", parse_cid_allow, "<cids>", default=None, note=CID_ALLOW_FORMS
            ),
            Option("fd", parse_descriptor, "<n>", default=None),
            Option("systemd", parse_text, "<index|name>", default=None),
            Option("privileged", parse_boolean, "yes|no", default=False),
            TYPE,
            Option("buffer", parse_buffer, "<bytes>", default=None),
        ),
        SERVER_TLS,
    )


def _parse_resolver(text: str, name: str) -> Resolver | None:
    return check_resolver(text.strip().lower(), name)


class VSockClientParser(ClientStringParser):
    """The ``vsock:`` prefix for ``clientFromString``."""

    grammar = Grammar(
        "vsock",
        VSockClientEndpoint,
        (
            Option(
                "cid", parse_connecting_cid, "<cid>", positional=True, note=CID_NOTE
            ),
            Option(
                "vm",
                check_vm_name,
                "<name>",
                default=None,
                note="a VM's name, its CID asked of libvirt or systemd-machined",
                instead_of="cid",
            ),
            PORT,
            TIMEOUT,
            IO,
            WAIT,
            Option("resolver", _parse_resolver, "|".join(RESOLVERS), default=None),
            TYPE,
            Option("bind", parse_bind, "<port>|privileged", default=None),
            Option(
                "tohost",
                parse_boolean,
                "yes|no",
                default=False,
                argument="to_host",
            ),
            Option("buffer", parse_buffer, "<bytes>", default=None),
        ),
        CLIENT_TLS,
    )
