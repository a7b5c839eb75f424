"""
Peer allow-lists: parsing, the endpoint strings that carry them, and, in
the guest, listeners that refuse a peer before any protocol is built.
"""

from __future__ import annotations

import os
import socket
import sys
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.internet.threads import deferToThread
from twisted.logger import LogEvent, globalLogPublisher

from twisted_hvsock._engines._gate import gated
from twisted_hvsock._engines.reactor import VSockPort
from twisted_hvsock._engines.threads.families import UNIX
from twisted_hvsock._engines.threads.port import ThreadedPort
from twisted_hvsock._sockets import hyperv as _hyperv_socket
from twisted_hvsock.address import CID_ANY, VSockAddress
from twisted_hvsock.allow import (
    CID_ALLOW_FORMS,
    VM_ALLOW_FORMS,
    PeerAllowList,
    check_allow,
    parse_cid_allow,
    parse_vm_allow,
)
from twisted_hvsock.hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_ids import VM_LOOPBACK, VM_PARENT, HyperVAddress
from twisted_hvsock.vsock import VSockServerEndpoint

from .support.fake_hyperv import FakeHyperV, FakePowerShell
from .support.leaks import busy_threads, counts_settle, open_fds
from .support.unix import short_directory
from .support.vsock import CID_LOCAL

VM = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
SERVICE = uuid.UUID("3049197c-9a4e-4fbf-9367-97f792f16994")


@pytest.mark.parametrize(
    ("text", "ranges", "shown"),
    [
        ("3", ((3, 3),), "3"),
        ("3,5-9", ((3, 3), (5, 9)), "3,5-9"),
        (" 5 - 9 , 3 ", ((3, 3), (5, 9)), "3,5-9"),
        ("host", ((2, 2),), "2"),
        ("LOCAL,hypervisor", ((0, 0), (1, 1)), "0,1"),
        ("local-host", ((1, 2),), "1-2"),
        ("3,3", ((3, 3),), "3"),
        ("0-4294967294", ((0, 2**32 - 2),), "0-4294967294"),
    ],
)
def test_cid_lists_parse_and_print_as_they_are_written(
    text: str, ranges: tuple[tuple[int, int], ...], shown: str
) -> None:
    allow = parse_cid_allow(text)
    assert allow.cid_ranges == ranges
    assert str(allow) == shown
    assert parse_cid_allow(str(allow)) == allow


@pytest.mark.parametrize(
    "text",
    ["", " ", "3,", ",3", "3,,5", "any", "4294967295", "-3", "3-", "3-5-7", "2-any"],
)
def test_bad_cid_lists_name_allow_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="^allow must be ") as raised:
        parse_cid_allow(text)
    assert CID_ALLOW_FORMS in str(raised.value)


def test_a_backwards_range_is_refused_as_such() -> None:
    with pytest.raises(ValueError, match="^allow: the range '9-5' runs backwards"):
        parse_cid_allow("3,9-5")


def test_vm_lists_take_guids_and_the_partition_names() -> None:
    allow = parse_vm_allow(f"parent,{str(VM).upper()},loopback")
    assert allow.vm_ids == {VM_PARENT, VM, VM_LOOPBACK}
    assert parse_vm_allow(str(allow)) == allow


def test_anything_else_in_a_vm_list_is_a_vm_name() -> None:
    allow = parse_vm_allow("parent,My VM,web-3")
    assert allow.vm_ids == {VM_PARENT}
    assert allow.vm_names == {"My VM", "web-3"}
    assert parse_vm_allow(str(allow)) == allow
    assert not allow.allows(HyperVAddress(VM, SERVICE))  # until resolved


def test_a_resolved_list_holds_the_named_vms_ids() -> None:
    allow = parse_vm_allow("parent,web")
    resolved = allow.resolved({"web": VM}.__getitem__)
    assert resolved == PeerAllowList(vm_ids=frozenset({VM_PARENT, VM}))
    assert resolved.allows(HyperVAddress(VM, SERVICE))
    assert resolved.resolved(lambda name: 1 / 0) is resolved  # nothing to look up


@pytest.mark.parametrize("text", ["", "children", "wildcard", "parent,", "a,,b"])
def test_bad_vm_lists_name_allow_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="^allow must be ") as raised:
        parse_vm_allow(text)
    assert VM_ALLOW_FORMS in str(raised.value)


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        (VSockAddress(3, 1024), True),
        (VSockAddress(7, 1024), True),
        (VSockAddress(4, 1024), False),
        (VSockAddress(10, 1024), False),
        (HyperVAddress(VM, SERVICE), True),
        (HyperVAddress(VM_PARENT, SERVICE), False),
        (UNIXAddress(b"/tmp/x"), False),
    ],
)
def test_a_list_allows_exactly_its_peers(peer: IAddress, allowed: bool) -> None:
    allow = PeerAllowList(cid_ranges=((3, 3), (5, 9)), vm_ids=frozenset({VM}))
    assert allow.allows(peer) is allowed


def test_check_allow_takes_a_list_its_text_or_none() -> None:
    allow = PeerAllowList(cid_ranges=((3, 3),))
    assert check_allow(None) is None
    assert check_allow(allow) is allow
    assert check_allow("3") == allow
    assert check_allow("parent", hyperv=True) == PeerAllowList(
        vm_ids=frozenset({VM_PARENT})
    )
    with pytest.raises(ValueError, match="^allow must be a PeerAllowList or text"):
        check_allow([3])


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", FakeHyperV().module)


@pytest.fixture
def linux_guest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", types.SimpleNamespace())
    monkeypatch.setattr(sys, "platform", "linux")


def test_vsock_server_strings_carry_the_list() -> None:
    endpoint = serverFromString(MemoryReactor(), "vsock:port=80:allow=3,5-9")
    assert isinstance(endpoint, VSockServerEndpoint)
    assert endpoint._allow == parse_cid_allow("3,5-9")
    plain = serverFromString(MemoryReactor(), "vsock:port=80")
    assert isinstance(plain, VSockServerEndpoint)
    assert plain._allow is None


def test_a_bad_list_in_a_string_is_a_value_error_naming_allow() -> None:
    with pytest.raises(ValueError, match="^allow must be comma-separated CIDs"):
        serverFromString(MemoryReactor(), "vsock:port=80:allow=3,,5")
    with pytest.raises(ValueError, match="^allow must be a PeerAllowList or text"):
        VSockServerEndpoint(MemoryReactor(), 80, allow=3)  # type: ignore[arg-type]


@pytest.mark.usefixtures("windows")
def test_hvsock_server_strings_carry_a_vm_list() -> None:
    endpoint = serverFromString(MemoryReactor(), f"hvsock:service=80:allow={VM}")
    assert isinstance(endpoint, HyperVServerEndpoint)
    assert endpoint._allow == PeerAllowList(vm_ids=frozenset({VM}))


@pytest.mark.usefixtures("linux_guest")
def test_in_a_linux_guest_an_hvsock_list_becomes_cids() -> None:
    endpoint = serverFromString(MemoryReactor(), "hvsock:80:allow=parent,loopback")
    assert isinstance(endpoint, HyperVServerEndpoint)
    assert endpoint._vsock is not None
    assert endpoint._vsock._allow == PeerAllowList(cid_ranges=((1, 1), (2, 2)))


@pytest.mark.usefixtures("linux_guest")
def test_in_a_linux_guest_a_vm_guid_cannot_be_a_peer() -> None:
    with pytest.raises(ValueError, match="^allow: a Linux guest's peers are only"):
        serverFromString(MemoryReactor(), f"hvsock:80:allow={VM}")


@pytest.mark.usefixtures("linux_guest")
def test_in_a_linux_guest_a_vm_name_cannot_be_looked_up() -> None:
    with pytest.raises(ValueError, match="^allow: VM names such as 'MyVM' are"):
        serverFromString(MemoryReactor(), "hvsock:80:allow=parent,MyVM")


class Built(Factory):
    """Counts the protocols it builds; each says hello and hangs up."""

    def __init__(self) -> None:
        self.built = 0

    def buildProtocol(self, addr: IAddress) -> Protocol:
        self.built += 1
        return Hello()


class Hello(Protocol):
    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"hello")
        self.transport.loseConnection()


@pytest.fixture
def refusals() -> Iterator[list[LogEvent]]:
    """The refusals logged while the test runs."""
    events: list[LogEvent] = []

    def observe(event: LogEvent) -> None:
        if "refused a connection" in str(event.get("log_format", "")):
            events.append(event)

    globalLogPublisher.addObserver(observe)
    yield events
    globalLogPublisher.removeObserver(observe)


def test_the_reactor_port_refuses_before_the_factory_sees_the_peer(
    refusals: list[LogEvent],
) -> None:
    factory = Built()
    gate = gated(factory, parse_cid_allow("3"))
    port = VSockPort(0, gate, CID_ANY, 5, MemoryReactor())
    assert gate.buildProtocol(VSockAddress(4, 1030)) is None
    assert (factory.built, port.refused) == (0, 1)
    assert isinstance(gate.buildProtocol(VSockAddress(3, 1031)), Hello)
    assert (factory.built, port.refused) == (1, 1)
    assert [event["peer"] for event in refusals] == [VSockAddress(4, 1030)]
    assert gate.logPrefix() == "Built"  # the wrapped factory's


@pytest_twisted.ensureDeferred
async def test_the_threads_port_closes_a_refused_socket_at_once(
    refusals: list[LogEvent],
) -> None:
    # Real Unix sockets on the host: a Unix peer is on no allow-list, so
    # every connection is refused, and the client reads the end at once.
    factory = Built()
    for directory in short_directory():
        path = os.path.join(directory, "s")
        gate = gated(factory, PeerAllowList())
        port = ThreadedPort(UNIX, path, gate, 5, reactor)
        port.startListening()
        try:
            received = await deferToThread(_connect_and_read_unix, path)
        finally:
            await port.stopListening()
    assert received == b""
    assert (factory.built, port.refused) == (0, 1)
    assert len(refusals) == 1


def _connect_and_read_unix(path: str) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(60)  # a hang guard: the close comes at once
        client.connect(path)
        return _read_all(client)


def _read_all(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(4096):
        received += chunk
    return received


# Kernel tier: real AF_VSOCK over CID 1 inside the guest.

kernel = pytest.mark.kernel


def _connect_and_read_vsock(port: int, times: int = 1) -> list[tuple[int, bytes]]:
    """Connect ``times`` times in a row; each connection's port and bytes."""
    results = []
    for _ in range(times):
        with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as client:
            client.settimeout(60)  # a hang guard: the close comes at once
            client.connect((CID_LOCAL, port))
            results.append((client.getsockname()[1], _read_all(client)))
    return results


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_a_listed_cid_is_served(io: str, refusals: list[LogEvent]) -> None:
    factory = Built()
    port = await VSockServerEndpoint(reactor, 0, io=io, allow="1").listen(factory)
    try:
        [(_, received)] = await deferToThread(
            _connect_and_read_vsock, port.getHost().port
        )
    finally:
        await port.stopListening()
    assert received == b"hello"
    assert (factory.built, port.refused) == (1, 0)
    assert refusals == []


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_an_unlisted_cid_is_closed_unseen(
    io: str, refusals: list[LogEvent]
) -> None:
    factory = Built()
    port = await VSockServerEndpoint(reactor, 0, io=io, allow="5").listen(factory)
    try:
        [(client_port, received)] = await deferToThread(
            _connect_and_read_vsock, port.getHost().port
        )
        # The listener goes on serving after a refusal.
        assert port.refused == 1
    finally:
        await port.stopListening()
    assert received == b""
    assert factory.built == 0
    assert [event["peer"] for event in refusals] == [VSockAddress(1, client_port)]


@kernel
@pytest.mark.parametrize("description", ["vsock:0:allow={}", "hvsock:0:allow={}"])
@pytest_twisted.ensureDeferred
async def test_strings_allow_and_refuse(description: str) -> None:
    # hvsock: in a Linux guest: loopback is CID 1, parent CID 2.
    listed, unlisted = (
        ("local", "5") if description[0] == "v" else ("loopback", "parent")
    )
    for allow, expected in [(listed, b"hello"), (unlisted, b"")]:
        endpoint = serverFromString(reactor, description.format(allow))
        port: Any = await endpoint.listen(Built())
        try:
            [(_, received)] = await deferToThread(
                _connect_and_read_vsock, port.getHost().port
            )
        finally:
            await port.stopListening()
        assert received == expected


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_a_thousand_refusals_leave_nothing_behind(io: str) -> None:
    factory = Built()
    port = await VSockServerEndpoint(reactor, 0, io=io, allow="5").listen(factory)
    try:
        # One refusal first, so that the thread pool the client runs on has
        # its worker before the counts are taken.
        await deferToThread(_connect_and_read_vsock, port.getHost().port)
        threads, fds = busy_threads(), open_fds()
        results = await deferToThread(
            _connect_and_read_vsock, port.getHost().port, 1000
        )
        await counts_settle(threads, fds)
        assert (busy_threads(), open_fds()) == (threads, fds)
        assert {received for _, received in results} == {b""}
        assert (factory.built, port.refused) == (0, 1001)
    finally:
        await port.stopListening()


class Collect(Protocol):
    """Collects what arrives; ``ended`` fires with it once the connection ends."""

    def __init__(self) -> None:
        self.received = b""
        self.ended: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.ended.callback(self.received)


async def serves_a_loopback_client(endpoint: HyperVServerEndpoint) -> bool:
    """
    Whether a loopback client's connection to ``endpoint`` is served (it
    reads the protocol's hello) or refused unseen (no data, no protocol
    built, one refusal counted).
    """
    factory = Built()
    port: Any = await endpoint.listen(factory)
    try:
        client = Collect()
        await HyperVClientEndpoint(reactor, VM_LOOPBACK, SERVICE).connect(
            Factory.forProtocol(lambda: client)
        )
        received = await client.ended
    finally:
        await port.stopListening()
    served = (received, factory.built, port.refused) == (b"hello", 1, 0)
    refused = (received, factory.built, port.refused) == (b"", 0, 1)
    assert served or refused, (received, factory.built, port.refused)
    return served


@pytest.mark.parametrize("listed", [True, False])
@pytest_twisted.ensureDeferred
async def test_an_af_hyperv_listener_checks_the_peer_s_vm_id(
    monkeypatch: pytest.MonkeyPatch, refusals: list[LogEvent], listed: bool
) -> None:
    # Windows' AF_HYPERV, faked: the threads engine, and a peer whose VM ID
    # is this partition's (a loopback connection).
    fake = FakeHyperV()
    monkeypatch.setattr(_hyperv_socket, "_socket_module", fake.module)
    allow = str(fake.partition_id) if listed else "parent"
    endpoint = HyperVServerEndpoint(reactor, SERVICE, allow=allow)
    assert await serves_a_loopback_client(endpoint) == listed
    assert [event["peer"].vm_id for event in refusals] == (
        [] if listed else [fake.partition_id]
    )


@pytest.mark.parametrize("listed", [True, False])
@pytest_twisted.ensureDeferred
async def test_an_af_hyperv_listener_looks_up_vm_names_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    refusals: list[LogEvent],
    listed: bool,
) -> None:
    fake = FakeHyperV()
    monkeypatch.setattr(_hyperv_socket, "_socket_module", fake.module)
    powershell = FakePowerShell(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    powershell.add_vm("This VM", fake.partition_id)
    powershell.add_vm("Other VM", uuid.uuid4())
    endpoint = HyperVServerEndpoint(
        reactor, SERVICE, allow="This VM" if listed else "Other VM,parent"
    )
    assert powershell.calls == []  # not until listening starts
    assert await serves_a_loopback_client(endpoint) == listed
    assert [call["name"] for call in powershell.calls] == (
        ["This VM"] if listed else ["Other VM"]
    )


@pytest_twisted.ensureDeferred
async def test_an_unknown_vm_name_in_allow_fails_the_listen_naming_allow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", FakeHyperV().module)
    FakePowerShell(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    endpoint = serverFromString(reactor, "hvsock:service=80:allow=parent,NoSuchVM")
    with pytest.raises(ValueError, match="^allow: no Hyper-V VM is named 'NoSuchVM'"):
        await endpoint.listen(Built())


def test_vsock_server_strings_take_privileged() -> None:
    endpoint: Any = serverFromString(MemoryReactor(), "vsock:80:privileged=yes")
    assert endpoint._privileged is True
    plain: Any = serverFromString(MemoryReactor(), "vsock:80")
    assert plain._privileged is False
    with pytest.raises(ValueError, match="^privileged must be true or false"):
        serverFromString(MemoryReactor(), "vsock:80:privileged=root")


@kernel
@pytest_twisted.ensureDeferred
async def test_privileged_yes_serves_reserved_ports_and_refuses_others(
    io: str, refusals: list[LogEvent]
) -> None:
    # In the guest the tests run as root, so a client may bind a reserved port.
    factory = Built()
    endpoint = VSockServerEndpoint(reactor, 0, io=io, privileged=True)
    port: Any = await endpoint.listen(factory)
    try:
        server_port = port.getHost().port
        reserved = await deferToThread(_exchange_from, server_port, 1000)
        ephemeral = await deferToThread(_exchange_from, server_port, None)
    finally:
        await port.stopListening()
    assert reserved == (1000, b"hello")
    assert ephemeral[1] == b""
    assert (factory.built, port.refused) == (1, 1)
    assert [event["peer"].port for event in refusals] == [ephemeral[0]]


def _exchange_from(server_port: int, source_port: int | None) -> tuple[int, bytes]:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as client:
        client.settimeout(60)  # a hang guard
        if source_port is not None:
            client.bind((CID_ANY, source_port))
        client.connect((CID_LOCAL, server_port))
        return client.getsockname()[1], _read_all(client)
