"""
The endpoint strings of every prefix: turned into the right endpoints with
the right arguments, and bad options named in the error.

``hvsock:`` strings are parsed on a Windows host (played by
tests/support/fake_hyperv.py) and, where they differ, in a Linux guest.
"""

from __future__ import annotations

import contextlib
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.testing import MemoryReactor

from twisted_hvsock._checks import default_backlog
from twisted_hvsock._options import (
    ClientStringParser,
    ServerStringParser,
    parse_positive_float,
    parse_positive_int,
)
from twisted_hvsock._sockets import hyperv as _hyperv_socket
from twisted_hvsock.address import CID_ANY, CID_HOST
from twisted_hvsock.allow import CID_ALLOW_FORMS, VM_ALLOW_FORMS
from twisted_hvsock.hybrid_vsock import (
    HybridVSockClientEndpoint,
    HybridVSockServerEndpoint,
)
from twisted_hvsock.hyperkit import HyperkitClientEndpoint, HyperkitServerEndpoint
from twisted_hvsock.hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_ids import (
    VM_CHILDREN,
    VM_LOOPBACK,
    VM_PARENT,
    VM_WILDCARD,
    service_id_for_port,
)
from twisted_hvsock.parsers import (
    HybridVSockClientParser,
    HybridVSockServerParser,
    HyperkitClientParser,
    HyperkitServerParser,
    HyperVClientParser,
    HyperVServerParser,
    VSockClientParser,
    VSockServerParser,
    parse_mode,
)
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from .support.fake_hyperv import FakeHyperV

#: What a server string without ``backlog`` gets: the kernel's limit.
DEFAULT_BACKLOG = default_backlog()
SERVICE = "3049197c-9a4e-4fbf-9367-97f792f16994"
VM = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
SERVER_PARSERS = [
    VSockServerParser,
    HyperVServerParser,
    HyperkitServerParser,
    HybridVSockServerParser,
]
CLIENT_PARSERS = [
    VSockClientParser,
    HyperVClientParser,
    HyperkitClientParser,
    HybridVSockClientParser,
]


@pytest.fixture
def reactor() -> MemoryReactor:
    return MemoryReactor()


@pytest.fixture(autouse=True)
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", FakeHyperV().module)


def attributes(endpoint: object, *names: str) -> tuple[Any, ...]:
    # The handshake backends' clients keep their socket's facts in _socket.
    socket = getattr(endpoint, "_socket", None)
    return tuple(
        getattr(endpoint, f"_{name}")
        if hasattr(endpoint, f"_{name}")
        else getattr(socket, name)
        for name in names
    )


@pytest.mark.parametrize(
    ("description", "port", "cid", "backlog"),
    [
        ("vsock:port=5000", 5000, CID_ANY, DEFAULT_BACKLOG),
        ("vsock:5000", 5000, CID_ANY, DEFAULT_BACKLOG),
        ("vsock:5000:backlog=128", 5000, CID_ANY, 128),
        ("vsock:port=0", 0, CID_ANY, DEFAULT_BACKLOG),
        ("vsock:port=5000:cid=local", 5000, 1, DEFAULT_BACKLOG),
        ("vsock:port=5000:cid=3", 5000, 3, DEFAULT_BACKLOG),
        ("vsock:port=4294967294", 2**32 - 2, CID_ANY, DEFAULT_BACKLOG),
    ],
)
def test_vsock_server_strings(
    reactor: MemoryReactor, description: str, port: int, cid: int, backlog: int
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, VSockServerEndpoint)
    assert attributes(endpoint, "port", "cid", "backlog") == (port, cid, backlog)


@pytest.mark.parametrize(
    ("description", "cid", "port", "timeout"),
    [
        ("vsock:cid=3:port=5000", 3, 5000, 30.0),
        ("vsock:3:5000", 3, 5000, 30.0),
        ("vsock:host:5000:timeout=5", CID_HOST, 5000, 5.0),
        ("vsock:cid=LOCAL:port=1:timeout=0.5", 1, 1, 0.5),
        ("vsock:hypervisor:port=22", 0, 22, 30.0),
    ],
)
def test_vsock_client_strings(
    reactor: MemoryReactor, description: str, cid: int, port: int, timeout: float
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, VSockClientEndpoint)
    assert attributes(endpoint, "cid", "port", "timeout") == (cid, port, timeout)


@pytest.mark.parametrize(
    ("description", "service_id", "vm_id", "backlog"),
    [
        ("hvsock:service=80", service_id_for_port(80), VM_WILDCARD, DEFAULT_BACKLOG),
        ("hvsock:80", service_id_for_port(80), VM_WILDCARD, DEFAULT_BACKLOG),
        (f"hvsock:service={SERVICE}", uuid.UUID(SERVICE), VM_WILDCARD, DEFAULT_BACKLOG),
        (
            f"hvsock:service={SERVICE.upper()}:vm=children:backlog=5",
            uuid.UUID(SERVICE),
            VM_CHILDREN,
            5,
        ),
        (
            f"hvsock:service=22:vm={{{VM}}}",
            service_id_for_port(22),
            uuid.UUID(VM),
            DEFAULT_BACKLOG,
        ),
        (
            "hvsock:service=22:vm=ZERO:io=threads",
            service_id_for_port(22),
            VM_WILDCARD,
            DEFAULT_BACKLOG,
        ),
    ],
)
def test_hvsock_server_strings(
    reactor: MemoryReactor,
    description: str,
    service_id: uuid.UUID,
    vm_id: uuid.UUID,
    backlog: int,
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, HyperVServerEndpoint)
    assert attributes(endpoint, "service_id", "vm_id", "backlog") == (
        service_id,
        vm_id,
        backlog,
    )


@pytest.mark.parametrize(
    ("description", "vm", "service_id", "timeout", "suspend"),
    [
        ("hvsock:vm=parent:service=80", VM_PARENT, service_id_for_port(80), 30, False),
        (
            "hvsock:loopback:80:timeout=2",
            VM_LOOPBACK,
            service_id_for_port(80),
            2,
            False,
        ),
        (
            f"hvsock:vm={VM}:service={SERVICE}:suspend=true",
            uuid.UUID(VM),
            uuid.UUID(SERVICE),
            30,
            True,
        ),
        ("hvsock:vm=MyVM:service=6000", "MyVM", service_id_for_port(6000), 30, False),
        (
            r"hvsock:vm=Web\:1:service=80:suspend=NO",
            "Web:1",
            service_id_for_port(80),
            30,
            False,
        ),
    ],
)
def test_hvsock_client_strings(
    reactor: MemoryReactor,
    description: str,
    vm: uuid.UUID | str,
    service_id: uuid.UUID,
    timeout: float,
    suspend: bool,
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, HyperVClientEndpoint)
    assert attributes(endpoint, "vm", "service_id", "timeout", "suspend") == (
        vm,
        service_id,
        timeout,
        suspend,
    )


@pytest.mark.parametrize(
    ("description", "path", "backlog", "mode", "io"),
    [
        (
            "hyperkit:path=/vm:port=80",
            "/vm/00000002.00000050",
            DEFAULT_BACKLOG,
            0o600,
            "reactor",
        ),
        (
            "hyperkit:/vm:80:mode=0660:io=threads",
            "/vm/00000002.00000050",
            DEFAULT_BACKLOG,
            0o660,
            "threads",
        ),
        (
            "hyperkit:path=vm:port=22:backlog=5:mode=0o640",
            "vm/00000002.00000016",
            5,
            0o640,
            "reactor",
        ),
    ],
)
def test_hyperkit_server_strings(
    reactor: MemoryReactor,
    description: str,
    path: str,
    backlog: int,
    mode: int,
    io: str,
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, HyperkitServerEndpoint)
    assert attributes(endpoint, "path", "backlog", "mode", "io") == (
        path,
        backlog,
        mode,
        io,
    )


@pytest.mark.parametrize(
    ("description", "cid", "port", "timeout"),
    [
        ("hyperkit:path=/vm:port=80", 3, 80, 30.0),
        ("hyperkit:/vm:80:cid=7:timeout=2.5", 7, 80, 2.5),
    ],
)
def test_hyperkit_client_strings(
    reactor: MemoryReactor, description: str, cid: int, port: int, timeout: float
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, HyperkitClientEndpoint)
    assert attributes(endpoint, "path", "cid", "port", "timeout") == (
        "/vm/connect",
        cid,
        port,
        timeout,
    )


def test_hybridvsock_strings_listen_on_path_underscore_port(
    reactor: MemoryReactor,
) -> None:
    server = serverFromString(reactor, "hybridvsock:path=/run/v.sock:port=52")
    assert isinstance(server, HybridVSockServerEndpoint)
    assert attributes(server, "path", "mode") == ("/run/v.sock_52", 0o600)
    client = clientFromString(
        reactor, "hybridvsock:/run/v.sock:52:timeout=3:io=threads"
    )
    assert isinstance(client, HybridVSockClientEndpoint)
    assert attributes(client, "path", "port", "timeout", "io") == (
        "/run/v.sock",
        52,
        3.0,
        "threads",
    )


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:", "port must be a whole number from 0 to 4294967294, got ''"),
        ("vsock:backlog=5", "give one of port .*, fd or systemd .*, got none"),
        ("vsock:port=65536x", "port must be a whole number from 0 to 4294967294"),
        ("vsock:port=-1", "port must be a whole number from 0 to 4294967294"),
        ("vsock:port=4294967295", "port must be a whole number from 0 to 4294967294"),
        (
            "vsock:port=80:cid=guest",
            "cid must be a whole number from 0 to 4294967295 or one of any, hypervisor",
        ),
        (
            "vsock:port=80:cid=4294967296",
            "cid must be a whole number from 0 to 4294967295",
        ),
        ("vsock:port=80:backlog=0", "backlog must be a positive number"),
        ("vsock:port=80:backlog=many", "backlog must be a positive number"),
        (
            "vsock:port=80:interface=lo",
            "unknown option 'interface'; accepted: port, cid, backlog",
        ),
        ("vsock:80:81", "too many positional arguments"),
        ("vsock:80:port=81", "port is given twice"),
        ("hvsock:vm=children", "service is required"),
        ("hvsock:service=http", "service must be a GUID or a decimal vsock port"),
        (
            "hvsock:service=4294967296",
            "service as a port must be a whole number from 0 to 4294967295",
        ),
        ("hvsock:service=80:vm=MyVM", "vm must be a GUID or one of"),
        ("hvsock:service=80:backlog=-1", "backlog must be a positive number"),
        ("vsock:80:buffer=big", r"^buffer must be a number of bytes from 128 to"),
        ("vsock:80:buffer=64", r"^buffer must be a number of bytes .* got 64$"),
        ("hvsock:service=80:io=reactor", "io=reactor is not possible for AF_HYPERV"),
        ("hvsock:service=80:port=3", "unknown option 'port'"),
        ("hyperkit:port=80", "path is required"),
        ("hyperkit:path=/vm", "port is required"),
        (
            "hyperkit:path=/vm:port=http",
            "port must be a whole number from 0 to 4294967294",
        ),
        ("hyperkit:path=/vm:port=80:mode=999", "mode must be octal"),
        ("hyperkit:path=/vm:port=80:mode=", "mode must be octal"),
        ("hyperkit:path=/vm:port=80:mode=1777", "mode must be octal"),
        ("hyperkit:path=/vm:port=80:backlog=0", "backlog must be"),
        ("hyperkit:path=/vm:port=80:io=fibers", "io must be one of"),
        ("hyperkit:path=/vm:port=80:cid=3", "unknown option 'cid'"),
        ("hybridvsock:path=/v.sock:port=52:timeout=1", "unknown option 'timeout'"),
        ("hybridvsock:path=/v.sock:port=0", "port must be given"),
        (f"hybridvsock:path=/{'x' * 120}:port=52", "path .* relative path"),
    ],
)
def test_bad_server_strings_name_the_option(
    reactor: MemoryReactor, description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        serverFromString(reactor, description)


@pytest.mark.parametrize(
    ("description", "socket_type"),
    [
        ("vsock:5000", "stream"),
        ("vsock:5000:type=stream", "stream"),
        ("vsock:5000:type=seqpacket", "seqpacket"),
        ("vsock:fd=3:type=SeqPacket", "seqpacket"),
    ],
)
def test_vsock_server_strings_take_a_socket_type(
    reactor: MemoryReactor, description: str, socket_type: str
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, VSockServerEndpoint)
    assert endpoint.socket_type == socket_type


@pytest.mark.parametrize(
    ("description", "socket_type"),
    [
        ("vsock:3:5000", "stream"),
        ("vsock:3:5000:type=seqpacket:wait=5", "seqpacket"),
        ("vsock:cid=host:port=5000:io=threads:type=SEQPACKET", "seqpacket"),
    ],
)
def test_vsock_client_strings_take_a_socket_type(
    reactor: MemoryReactor, description: str, socket_type: str
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, VSockClientEndpoint)
    assert endpoint.socket_type == socket_type


@pytest.mark.parametrize(
    ("parse", "description", "message"),
    [
        (
            serverFromString,
            "vsock:5000:type=dgram",
            "^type must be one of stream, seqp",
        ),
        (clientFromString, "vsock:3:5000:type=", "^type must be one of stream, seqpa"),
        (
            serverFromString,
            "hvsock:service=80:type=seqpacket",
            "^type=seqpacket is not possible for Hyper-V .* messages need vsock:",
        ),
        (
            clientFromString,
            "hvsock:vm=parent:service=80:type=seqpacket",
            "^type=seqpacket is not possible for Hyper-V",
        ),
        (
            serverFromString,
            "vsock:443:type=seqpacket:privateKey=key.pem",
            "^privateKey: TLS needs a byte stream, and type=seqpacket",
        ),
        (
            clientFromString,
            "vsock:3:443:type=seqpacket:tls=yes:hostname=web",
            "^tls: TLS needs a byte stream, and type=seqpacket",
        ),
    ],
)
def test_a_socket_type_an_endpoint_cannot_carry_is_named(
    reactor: MemoryReactor, parse: Callable[..., object], description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse(reactor, description)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:port=80", "cid or vm is required"),
        ("vsock:3", "port is required"),
        ("vsock:any:80", "only for listening"),
        ("vsock:3:80:timeout=0", "timeout must be a positive number"),
        ("vsock:3:80:timeout=nan", "timeout must be a positive number"),
        ("vsock:3:80:timeout=soon", "timeout must be a positive number"),
        ("vsock:3:80:buffer=1M", r"^buffer must be a number of bytes .* got '1M'$"),
        ("vsock:3:80:buffer=4294967296", r"^buffer must be .* to 4294967295"),
        (
            "vsock:3:80:backlog=5",
            "unknown option 'backlog'; accepted: cid, vm, port, timeout",
        ),
        ("hvsock:vm=parent", "service is required"),
        ("hvsock:service=80", "vm is required"),
        ("hvsock:vm=:service=80", "vm must be"),
        ("hvsock:vm=parent:service=80:suspend=maybe", "suspend must be true or false"),
        ("hvsock:vm=parent:service=80:timeout=never", "timeout must be a positive"),
        ("hvsock:vm=parent:service=80:io=fast", "io must be one of"),
        (
            "hyperkit:path=/vm:port=80:cid=any",
            "cid must be a whole number from 0 to 4294967294",
        ),
        ("hyperkit:path=/vm:port=80:cid=guest", "cid must be a whole number"),
        ("hyperkit:path=/vm:port=80:timeout=-1", "timeout must be a positive"),
        ("hyperkit:path=/vm:port=80:mode=600", "unknown option 'mode'"),
        ("hybridvsock:path=/v.sock", "port is required"),
        ("hybridvsock:path=/v.sock:port=52:cid=3", "unknown option 'cid'"),
        ("hybridvsock:path=/v.sock:port=52:io=", "io must be one of"),
    ],
)
def test_bad_client_strings_name_the_option(
    reactor: MemoryReactor, description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        clientFromString(reactor, description)


@pytest.mark.parametrize(
    ("description", "usage"),
    [
        ("vsock:3", r"usage: vsock:\(\[cid=\]<cid>\|vm=<name>\):\[port=\]<port>"),
        ("hvsock:parent", r"usage: hvsock:\[vm=\]<vm>:\[service=\]"),
    ],
)
def test_errors_quote_the_accepted_form(
    reactor: MemoryReactor, description: str, usage: str
) -> None:
    with pytest.raises(ValueError, match=usage):
        clientFromString(reactor, description)


_CIDS = "(cid: a number or any|hypervisor|local|host)"
_VMS = "(vm: a GUID or wildcard|zero|broadcast|children|loopback|parent"
_WAIT = "[:wait=<seconds>]"
_IO = "[:io=reactor|threads]"
_TYPE = "[:type=stream|seqpacket]"
_SERVER_TLS = (
    "[:privateKey=<PEM file>][:certKey=<PEM file>][:extraCertChain=<PEM file>]"
    "[:trustRoots=<PEM file|dir>]"
)
_CLIENT_TLS = (
    "[:tls=yes|no][:hostname=<name>][:trustRoots=<PEM file|dir>]"
    "[:certificate=<PEM file>][:privateKey=<PEM file>]"
)
_SERVER_TLS_NAMES = ("privateKey", "certKey", "extraCertChain", "trustRoots")
_CLIENT_TLS_NAMES = ("tls", "hostname", "trustRoots", "certificate", "privateKey")


@pytest.mark.parametrize(
    ("parser", "usage", "positional", "accepted"),
    [
        (
            VSockServerParser,
            f"vsock:[[port=]<port>][:cid=<cid>][:backlog=<n>]{_IO}[:allow=<cids>]"
            "[:fd=<n>][:systemd=<index|name>][:privileged=yes|no]"
            f"{_TYPE}[:buffer=<bytes>][:privateKey=<PEM file>]"
            "[:certKey=<PEM file>][:extraCertChain=<PEM file>]"
            f"[:trustRoots=<PEM file|dir>] {_CIDS[:-1]}; allow: {CID_ALLOW_FORMS})",
            ("port",),
            (
                *("port", "cid", "backlog", "io", "allow", "fd", "systemd"),
                *("privileged", "type", "buffer"),
                *("privateKey", "certKey", "extraCertChain", "trustRoots"),
            ),
        ),
        (
            VSockClientParser,
            "vsock:([cid=]<cid>|vm=<name>):[port=]<port>[:timeout=<seconds>]"
            f"{_IO}{_WAIT}[:resolver=libvirt|machined]{_TYPE}"
            "[:bind=<port>|privileged][:tohost=yes|no][:buffer=<bytes>]"
            "[:tls=yes|no][:hostname=<name>][:trustRoots=<PEM file|dir>]"
            f"[:certificate=<PEM file>][:privateKey=<PEM file>] {_CIDS[:-1]}; "
            "vm: a VM's name, its CID asked of libvirt or systemd-machined)",
            ("cid", "port"),
            (
                *("cid", "vm", "port", "timeout", "io", "wait", "resolver"),
                *("type", "bind", "tohost", "buffer", "tls", "hostname"),
                "trustRoots",
                *("certificate", "privateKey"),
            ),
        ),
        (
            HyperVServerParser,
            f"hvsock:[service=]<GUID|port>[:vm=<vm>][:backlog=<n>]{_IO}"
            f"[:allow=<vms>][:type=stream] {_VMS}; allow: {VM_ALLOW_FORMS})",
            ("service",),
            ("service", "vm", "backlog", "io", "allow", "type"),
        ),
        (
            HyperVClientParser,
            "hvsock:[vm=]<vm>:[service=]<GUID|port>[:timeout=<seconds>]"
            f"[:suspend=true|false]{_IO}{_WAIT}[:type=stream] {_VMS}, or a VM's name)",
            ("vm", "service"),
            ("vm", "service", "timeout", "suspend", "io", "wait", "type"),
        ),
        (
            HyperkitServerParser,
            f"hyperkit:[path=]<dir>:[port=]<port>[:backlog=<n>][:mode=<octal>]{_IO}"
            + _SERVER_TLS,
            ("path", "port"),
            ("path", "port", "backlog", "mode", "io", *_SERVER_TLS_NAMES),
        ),
        (
            HyperkitClientParser,
            "hyperkit:[path=]<dir>:[port=]<port>[:cid=<cid>][:timeout=<seconds>]"
            f"{_IO}{_WAIT}{_CLIENT_TLS} {_CIDS}",
            ("path", "port"),
            ("path", "port", "cid", "timeout", "io", "wait", *_CLIENT_TLS_NAMES),
        ),
        (
            HybridVSockServerParser,
            "hybridvsock:[path=]<uds_path>:[port=]<port>[:backlog=<n>]"
            f"[:mode=<octal>]{_IO}{_SERVER_TLS}",
            ("path", "port"),
            ("path", "port", "backlog", "mode", "io", *_SERVER_TLS_NAMES),
        ),
        (
            HybridVSockClientParser,
            "hybridvsock:[path=]<uds_path>:[port=]<port>[:timeout=<seconds>]"
            f"{_IO}{_WAIT}{_CLIENT_TLS}",
            ("path", "port"),
            ("path", "port", "timeout", "io", "wait", *_CLIENT_TLS_NAMES),
        ),
    ],
)
def test_usage_and_accepted_names_come_from_the_declarations(
    parser: type[ServerStringParser | ClientStringParser],
    usage: str,
    positional: tuple[str, ...],
    accepted: tuple[str, ...],
) -> None:
    # The forms docs/endpoint-strings.rst shows, with the notes errors add.
    grammar = parser.grammar
    assert grammar.usage == usage
    assert grammar.positional == positional
    # vsock: servers need a port unless they take an inherited socket.
    required = () if parser is VSockServerParser else positional
    assert grammar.required == required
    assert grammar.accepted == accepted


@pytest.mark.parametrize(
    ("description", "hint"),
    [
        ("vsock:prot=5000", "unknown option 'prot' (did you mean port?); accepted: "),
        ("vsock:3:5000:timout=5", "unknown option 'timout' (did you mean timeout?)"),
        ("hvsock:servce=5000", "unknown option 'servce' (did you mean service?)"),
        (
            "hyperkit:path=/vm:port=80:mdoe=600",
            "unknown option 'mdoe' (did you mean mode?)",
        ),
    ],
)
def test_a_misspelt_option_is_named_with_the_closest_one(
    reactor: MemoryReactor, description: str, hint: str
) -> None:
    build = clientFromString if ":3:" in description else serverFromString
    with pytest.raises(ValueError) as raised:
        build(reactor, description)
    assert str(raised.value).startswith(hint)
    # The accepted names, not the whole usage: one readable line.
    assert "usage" not in str(raised.value)


@pytest.mark.parametrize(
    ("build", "uri", "form"),
    [
        (clientFromString, "vsock://3:80", "vsock:<cid>:<port>"),
        (serverFromString, "vsock://:80", "vsock:<port>"),
        (clientFromString, "hvsock://parent/80", "hvsock:<vm>:<GUID|port>"),
    ],
)
def test_a_uri_given_as_an_endpoint_string_says_where_uris_go(
    reactor: MemoryReactor, build: Any, uri: str, form: str
) -> None:
    with pytest.raises(ValueError) as raised:
        build(reactor, uri)
    assert str(raised.value) == (
        f"{uri!r} is a URI, not an endpoint string: write {form} (URIs are read "
        "by the hvsock command and twisted_hvsock.uri)"
    )


@pytest.mark.parametrize(
    "description",
    [
        "vsock:port=5:reactor=1",
        "vsock:port=5:self=1",
        "hvsock:service=5:reactor=1",
        "hyperkit:path=/tmp/x:port=5:self=1",
        "hybridvsock:path=/tmp/x:port=5:reactor=1",
    ],
)
def test_options_named_like_the_parsers_parameters_are_unknown_options(
    reactor: MemoryReactor, description: str
) -> None:
    # Not "TypeError: got multiple values for argument 'reactor'".
    name = description.rpartition(":")[2].partition("=")[0]
    for from_string in (serverFromString, clientFromString):
        with pytest.raises(ValueError, match=f"unknown option '{name}'"):
            from_string(reactor, description)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        (f"hvsock:vm=parent:service={SERVICE}", "is not a Linux vsock port"),
        ("hvsock:vm=MyVM:service=80", "looked up on the Windows host"),
        ("hvsock:vm=parent:service=80:suspend=true", "suspend"),
        ("hvsock:vm=parent:service=80:type=seqpacket", "not possible for Hyper-V"),
    ],
)
def test_in_a_linux_guest_strings_it_cannot_serve_are_value_errors(
    reactor: MemoryReactor,
    monkeypatch: pytest.MonkeyPatch,
    description: str,
    message: str,
) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", types.SimpleNamespace())
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(ValueError, match=message):
        clientFromString(reactor, description)


@pytest.mark.parametrize(
    ("text", "value", "parse"),
    [
        ("7", 7, parse_positive_int),
        (" 7 ", 7, parse_positive_int),
        ("2", 2.0, parse_positive_float),
        ("0.5", 0.5, parse_positive_float),
    ],
)
def test_numbers_are_parsed_to_their_own_type(
    text: str, value: float, parse: Callable[[str, str], float]
) -> None:
    parsed = parse(text, "n")
    assert (parsed, type(parsed)) == (value, type(value))


@pytest.mark.parametrize(
    ("text", "parse"),
    [
        ("1.5", parse_positive_int),
        ("0", parse_positive_int),
        ("inf", parse_positive_float),
        ("-0.5", parse_positive_float),
    ],
)
def test_numbers_out_of_their_type_or_range_are_refused(
    text: str, parse: Callable[[str, str], float]
) -> None:
    with pytest.raises(ValueError, match=f"n must be a positive number, got '{text}'"):
        parse(text, "n")


@pytest.mark.parametrize(
    ("text", "mode"), [("600", 0o600), ("0600", 0o600), ("0o666", 0o666), ("0", 0)]
)
def test_modes_are_octal(text: str, mode: int) -> None:
    assert parse_mode(text) == mode


text = st.text(max_size=40)
options = st.dictionaries(
    st.sampled_from(
        [
            *("port", "cid", "vm", "service", "path", "backlog", "mode"),
            *("timeout", "suspend", "io", "reactor", "self", "x"),
        ]
    ),
    text,
    max_size=4,
)


# Parsers and prefixes are drawn by hypothesis: pytest-twisted cannot run a
# parametrised @given test. No deadline: the first example may scan Twisted's
# plugins or import an endpoint module, which takes a good part of a second.
@settings(deadline=None)
@given(st.sampled_from(SERVER_PARSERS), st.lists(text, max_size=3), options)
def test_server_parsers_raise_only_value_error_on_garbage(
    parser: type[ServerStringParser], args: list[str], kwargs: dict[str, str]
) -> None:
    with contextlib.suppress(ValueError):
        parser().parseStreamServer(MemoryReactor(), *args, **kwargs)


@settings(deadline=None)
@given(st.sampled_from(CLIENT_PARSERS), st.lists(text, max_size=3), options)
def test_client_parsers_raise_only_value_error_on_garbage(
    parser: type[ClientStringParser], args: list[str], kwargs: dict[str, str]
) -> None:
    with contextlib.suppress(ValueError):
        parser().parseStreamClient(MemoryReactor(), *args, **kwargs)


@settings(deadline=None)
@given(
    st.sampled_from(["vsock", "hvsock", "hyperkit", "hybridvsock"]),
    st.text(alphabet="vsockportcidbacklgtme=:0123456789-.x ", max_size=40),
)
def test_whole_description_garbage_raises_only_value_error(
    prefix: str, garbage: str
) -> None:
    for build in (serverFromString, clientFromString):
        with contextlib.suppress(ValueError):
            build(MemoryReactor(), f"{prefix}:{garbage}")
