from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactor

from twisted_hvsock._sockets import hyperv as _hyperv_socket
from twisted_hvsock.address import CID_ANY, CID_HOST, PORT_ANY, VSockAddress
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
    HyperVAddress,
    service_id_for_port,
)
from twisted_hvsock.uri import (
    HybridVSockURI,
    HyperkitURI,
    HyperVURI,
    VSockURI,
    client_endpoint,
    client_string,
    parse_uri,
    server_endpoint,
    server_string,
)
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from .support.fake_hyperv import FakeHyperV

VM = "3049197c-9a4e-4fbf-9367-97f792f16994"
SERVICE = "0000162e-facb-11e6-bd58-64006a7986d3"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("vsock://:80", VSockURI(None, 80)),
        ("vsock://:80/", VSockURI(None, 80)),
        ("vsock://3:80", VSockURI(3, 80)),
        ("vsock://3:80/", VSockURI(3, 80)),
        ("vsock://host:5000", VSockURI(CID_HOST, 5000)),
        ("vsock://any:5000", VSockURI(CID_ANY, 5000)),
        (
            f"hvsock://{VM}/{SERVICE}",
            HyperVURI(uuid.UUID(VM), None, uuid.UUID(SERVICE)),
        ),
        (
            f"hvsock://{VM.upper()}/{SERVICE.upper()}",
            HyperVURI(uuid.UUID(VM), None, uuid.UUID(SERVICE)),
        ),
        ("hvsock://parent/80", HyperVURI(VM_PARENT, None, service_id_for_port(80))),
        (
            f"hvsock://Loopback/{SERVICE}/",
            HyperVURI(VM_LOOPBACK, None, uuid.UUID(SERVICE)),
        ),
        (
            "hvsock://MobyLinuxVM/255",
            HyperVURI(None, "MobyLinuxVM", service_id_for_port(255)),
        ),
        (
            "hyperkit://:80/Users/foo/Library/Containers/com.docker.docker/Data/vms/0",
            HyperkitURI(
                None, 80, "/Users/foo/Library/Containers/com.docker.docker/Data/vms/0"
            ),
        ),
        ("hyperkit://3:80/./hvtest-state", HyperkitURI(3, 80, "./hvtest-state")),
        ("hyperkit://:80/../vms/0", HyperkitURI(None, 80, "../vms/0")),
        ("hybridvsock://:52/run/fc/v.sock", HybridVSockURI(52, "/run/fc/v.sock")),
    ],
)
def test_uris_and_their_addresses(text: str, parsed: object) -> None:
    assert parse_uri(text) == parsed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("vsock://3", "expected vsock://[<cid>]:<port>[/]"),
        ("vsock://3:80/path", "has no path"),
        ("vsock://3:eighty", "port must be a whole number from 0 to 4294967294"),
        (
            "vsock://guest:80",
            "cid must be a whole number from 0 to 4294967295 or one of",
        ),
        ("vsock://3:4294967295", "port must be a whole number from 0 to 4294967294"),
        ("hvsock://parent", "both the VM and the service are needed"),
        ("hvsock://parent/http", "service must be a GUID or a decimal vsock port"),
        ("hyperkit://:80", "the path is missing"),
        ("hyperkit://:80/", "the path is missing"),
        ("hybridvsock://3:52/x", "names no CID"),
        ("tcp://localhost:80", "expected a URI of one of the forms"),
        ("vsock:port=80", "expected a URI of one of the forms"),
    ],
)
def test_malformed_uris_say_what_was_expected(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_uri(text)


def test_vsock_uris_become_endpoints() -> None:
    reactor = MemoryReactor()
    server = server_endpoint(reactor, "vsock://:80")
    assert isinstance(server, VSockServerEndpoint)
    assert (server._cid, server._port) == (CID_ANY, 80)
    client = client_endpoint(reactor, "vsock://3:80/")
    assert isinstance(client, VSockClientEndpoint)
    assert (client._cid, client._port) == (3, 80)


def test_endpoint_strings_pass_through_to_twisted() -> None:
    reactor = MemoryReactor()
    assert isinstance(server_endpoint(reactor, "vsock:port=80"), VSockServerEndpoint)
    assert isinstance(client_endpoint(reactor, "tcp:localhost:80"), TCP4ClientEndpoint)


def test_a_vsock_uri_without_cid_cannot_be_connected_to() -> None:
    with pytest.raises(ValueError, match="names no CID to connect to"):
        client_endpoint(MemoryReactor(), "vsock://:80")


def test_hvsock_uris_become_hyperv_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", FakeHyperV().module)
    reactor = MemoryReactor()
    server = server_endpoint(reactor, f"hvsock://children/{SERVICE}")
    assert isinstance(server, HyperVServerEndpoint)
    assert (server._vm_id, server._service_id) == (VM_CHILDREN, uuid.UUID(SERVICE))
    client = client_endpoint(reactor, "hvsock://MobyLinuxVM/255")
    assert isinstance(client, HyperVClientEndpoint)
    assert (client._vm, client._service_id) == ("MobyLinuxVM", service_id_for_port(255))
    client = client_endpoint(reactor, f"hvsock://{VM}/{SERVICE}")
    assert isinstance(client, HyperVClientEndpoint)
    assert client._vm == uuid.UUID(VM)


def test_an_hvsock_server_uri_needs_a_vm_id_not_a_name() -> None:
    with pytest.raises(ValueError, match="not a VM's name"):
        server_endpoint(MemoryReactor(), "hvsock://MobyLinuxVM/80")


def test_hyperkit_uris_become_hyperkit_endpoints() -> None:
    reactor = MemoryReactor()
    server = server_endpoint(reactor, "hyperkit://:80/./vm")
    assert isinstance(server, HyperkitServerEndpoint)
    assert server._path == "./vm/00000002.00000050"
    assert isinstance(
        server_endpoint(reactor, "hyperkit://2:80/vm"), HyperkitServerEndpoint
    )
    client = client_endpoint(reactor, "hyperkit://:80/Users/me/vm")
    assert isinstance(client, HyperkitClientEndpoint)
    assert (client._socket.path, client._cid, client._port) == (
        "/Users/me/vm/connect",
        3,
        80,
    )
    assert client_endpoint(reactor, "hyperkit://7:80/vm")._cid == 7  # type: ignore[attr-defined]


def test_a_hyperkit_server_uri_naming_a_guest_cid_is_refused() -> None:
    with pytest.raises(
        ValueError, match="names CID 3; a hyperkit listener is the host"
    ):
        server_endpoint(MemoryReactor(), "hyperkit://3:80/vm")


def test_hybridvsock_uris_become_hybrid_vsock_endpoints() -> None:
    reactor = MemoryReactor()
    server = server_endpoint(reactor, "hybridvsock://:52/run/v.sock")
    assert isinstance(server, HybridVSockServerEndpoint)
    assert server._path == "/run/v.sock_52"
    client = client_endpoint(reactor, "hybridvsock://:52/./v.sock")
    assert isinstance(client, HybridVSockClientEndpoint)
    assert (client._socket.path, client._port) == ("./v.sock", 52)


@pytest.mark.parametrize(
    ("text", "server", "client"),
    [
        ("vsock://:80", "vsock:port=80", None),
        ("vsock://host:80/", "vsock:port=80:cid=2", "vsock:cid=2:port=80"),
        (
            "hvsock://parent/80",
            f"hvsock:service={service_id_for_port(80)}:vm={VM_PARENT}",
            f"hvsock:vm={VM_PARENT}:service={service_id_for_port(80)}",
        ),
        (
            "hvsock://Web:1/80",
            None,
            rf"hvsock:vm=Web\:1:service={service_id_for_port(80)}",
        ),
        (
            r"hyperkit://:80/./a:b\c=d",
            r"hyperkit:path=./a\:b\\c=d:port=80",
            r"hyperkit:path=./a\:b\\c=d:port=80",
        ),
        ("hyperkit://2:80/vm", "hyperkit:path=/vm:port=80", None),
        ("hyperkit://7:80/vm", None, "hyperkit:path=/vm:port=80:cid=7"),
        (
            "hybridvsock://:52/run/v.sock",
            "hybridvsock:path=/run/v.sock:port=52",
            "hybridvsock:path=/run/v.sock:port=52",
        ),
        ("tcp:80", "tcp:80", "tcp:80"),
    ],
)
def test_uris_become_endpoint_strings_with_each_value_quoted(
    text: str, server: str | None, client: str | None
) -> None:
    # None: not checked here (refused, or pinned by another case).
    if server is not None:
        assert server_string(text) == server
    if client is not None:
        assert client_string(text) == client


def test_quoted_values_reach_the_endpoints_unchanged() -> None:
    reactor = MemoryReactor()
    server = server_endpoint(reactor, r"hyperkit://:80/./a:b\c=d")
    assert isinstance(server, HyperkitServerEndpoint)
    assert server._path == r"./a:b\c=d/00000002.00000050"
    client = client_endpoint(reactor, "hybridvsock://:52/run/v:1.sock")
    assert isinstance(client, HybridVSockClientEndpoint)
    assert client._socket.path == "/run/v:1.sock"


def test_a_hyperv_display_name_with_a_colon_reaches_the_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", FakeHyperV().module)
    client = client_endpoint(MemoryReactor(), "hvsock://Web:1/80")
    assert isinstance(client, HyperVClientEndpoint)
    assert client._vm == "Web:1"


# One URI grammar: the address types read a full address as parse_uri does.
@pytest.mark.parametrize(
    "text", ["vsock://3:80", "vsock://3:80/", "vsock://HOST:5000", "vsock://any:0"]
)
def test_vsock_addresses_parse_as_vsock_uris_do(text: str) -> None:
    address = VSockAddress.from_uri(text)
    assert parse_uri(text) == VSockURI(address.cid, address.port)


@pytest.mark.parametrize(
    "text",
    [
        "vsock://3",
        "vsock://3:80/path",
        "vsock://3:eighty",
        "vsock://guest:80",
        "vsock://3:80:1",
        "vsock:port=80",
    ],
)
def test_vsock_addresses_refuse_what_vsock_uris_refuse(text: str) -> None:
    with pytest.raises(ValueError, match="expected .*vsock://"):
        parse_uri(text)
    with pytest.raises(ValueError, match="expected vsock://"):
        VSockAddress.from_uri(text)


def test_a_vsock_uri_without_cid_is_for_listening_not_an_address() -> None:
    assert parse_uri("vsock://:80") == VSockURI(None, 80)
    with pytest.raises(ValueError, match="names no CID; an address needs one"):
        VSockAddress.from_uri("vsock://:80")


def test_only_addresses_hold_the_kernel_s_wildcard_port() -> None:
    # str() of an address may print PORT_ANY; an endpoint cannot name it.
    assert VSockAddress.from_uri("vsock://3:4294967295").port == PORT_ANY
    with pytest.raises(
        ValueError, match="port must be a whole number from 0 to 4294967294"
    ):
        parse_uri("vsock://3:4294967295")


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 2))
def test_every_printed_vsock_address_is_a_vsock_uri(cid: int, port: int) -> None:
    address = VSockAddress(cid, port)
    assert parse_uri(str(address)) == VSockURI(cid, port)


@pytest.mark.parametrize(
    "text",
    [f"hvsock://{VM}/{SERVICE}", "hvsock://parent/80", f"hvsock://Loopback/{SERVICE}/"],
)
def test_hyperv_addresses_parse_as_hvsock_uris_do(text: str) -> None:
    address = HyperVAddress.from_uri(text)
    assert parse_uri(text) == HyperVURI(address.vm_id, None, address.service_id)


@pytest.mark.parametrize(
    "text", ["hvsock://parent", "hvsock:///80", "hvsock://parent/http"]
)
def test_hyperv_addresses_refuse_what_hvsock_uris_refuse(text: str) -> None:
    with pytest.raises(ValueError, match="expected hvsock://"):
        parse_uri(text)
    with pytest.raises(ValueError, match="expected hvsock://"):
        HyperVAddress.from_uri(text)


def test_an_hvsock_uri_naming_a_vm_by_its_name_is_not_an_address() -> None:
    assert parse_uri("hvsock://MobyLinuxVM/255") == HyperVURI(
        None, "MobyLinuxVM", service_id_for_port(255)
    )
    with pytest.raises(ValueError, match="names a VM by its name"):
        HyperVAddress.from_uri("hvsock://MobyLinuxVM/255")


@given(st.uuids(), st.uuids())
def test_every_printed_hyperv_address_is_an_hvsock_uri(
    vm_id: uuid.UUID, service_id: uuid.UUID
) -> None:
    assert parse_uri(str(HyperVAddress(vm_id, service_id))) == HyperVURI(
        vm_id, None, service_id
    )


@pytest.mark.parametrize(
    ("text", "role", "instead"),
    [
        (
            "vsock://3:80?type=seqpacket",
            client_endpoint,
            "vsock:cid=3:port=80:type=seqpacket",
        ),
        (
            "vsock://:80/?type=seqpacket&io=threads",
            server_endpoint,
            "vsock:port=80:type=seqpacket:io=threads",
        ),
    ],
)
def test_a_vsock_uri_with_options_is_refused_with_the_string_that_says_them(
    text: str, role: Callable[[Any, str], object], instead: str
) -> None:
    with pytest.raises(ValueError) as raised:
        role(MemoryReactor(), text)
    assert str(raised.value) == (
        f"{text!r}: a URI takes no options (?{text.partition('?')[2]}); give them "
        f"in an endpoint string: {instead}"
    )


@pytest.mark.parametrize(
    "text", ["vsock://3:80?type=seqpacket", "hvsock://parent/80?type=seqpacket"]
)
def test_parsing_a_uri_with_a_query_says_uris_take_no_options(text: str) -> None:
    scheme = text.partition(":")[0]
    with pytest.raises(ValueError, match=f"a URI takes no options .* a {scheme}: "):
        parse_uri(text)


def test_a_hyperkit_path_may_hold_a_question_mark() -> None:
    assert parse_uri("hyperkit://:80/vms/0?x") == HyperkitURI(None, 80, "/vms/0?x")
