"""
VM names on a Linux host: looked up through stand-ins for ``virsh`` and
``machinectl`` that print what the real ones print
(``tests/support/fake_linux_vms.py``), on the host; a name that maps to CID 1
reaching a real listener, in the guest.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, error, reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IListeningPort, IProtocolFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor

from twisted_hvsock import vsock
from twisted_hvsock._engines._gate import PeerGate
from twisted_hvsock.allow import PeerAllowList, parse_cid_allow
from twisted_hvsock.errors import VMLookupError
from twisted_hvsock.linux_vm_names import (
    LinuxVM,
    check_resolver,
    check_vm_name,
    list_vms,
    resolve_vm_cid,
)
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from .support.fake_linux_vms import FakeMachinectl, FakeVirsh
from .support.streams import Echo, SendAndCollect, factory_for

# A name no shell could be handed safely: spaces, quotes, a leading dash,
# command substitutions that would create $PWNED, and the shell's operators.
STRANGE = '-x web; touch "$PWNED" $(touch "$PWNED") `touch pwned` \'q\' & | > <'


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the stand-ins a test puts there."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    return directory


@pytest.fixture
def virsh(bin_dir: Path) -> FakeVirsh:
    return FakeVirsh(bin_dir)


@pytest.fixture
def machinectl(bin_dir: Path) -> FakeMachinectl:
    return FakeMachinectl(bin_dir)


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the lookups as root: libvirt's system connection only."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)


@pytest.fixture
def stdin_is_a_pipe() -> Iterator[None]:
    """
    This process's stdin is a pipe, as ``hvsock cat``'s may be: a command
    that inherited it could read the user's data.
    """
    read, write = os.pipe()
    saved = os.dup(0)
    os.dup2(read, 0)
    try:
        yield
    finally:
        os.dup2(saved, 0)
        for descriptor in (saved, read, write):
            os.close(descriptor)


DUMPXML = ["--readonly", "--connect", "qemu:///system", "dumpxml"]


# Looking names up.


@pytest.mark.usefixtures("root", "stdin_is_a_pipe")
@pytest.mark.parametrize("vsock", ["auto", "static"])
def test_a_running_libvirt_domain_s_cid_comes_from_its_vsock_device(
    virsh: FakeVirsh, vsock: str
) -> None:
    virsh.add_domain("web", vsock=vsock, cid=7)
    assert resolve_vm_cid("web") == 7
    [call] = virsh.calls
    assert call["argv"] == [*DUMPXML, "--domain=web"]
    assert call["stdin_is_devnull"]
    assert call["LC_ALL"] == "C"  # virsh's messages are matched in English


@pytest.mark.usefixtures("stdin_is_a_pipe")
def test_machined_answers_where_libvirt_is_not_installed(
    machinectl: FakeMachinectl,
) -> None:
    machinectl.add_machine("fedora", cid=4)
    assert resolve_vm_cid("fedora") == 4
    [call] = machinectl.calls
    assert call["argv"] == [
        *("--no-pager", "show", "--property=VSockCID", "--value", "--", "fedora")
    ]
    assert call["stdin_is_devnull"]


@pytest.mark.usefixtures("root")
def test_libvirt_is_asked_first_then_machined(
    virsh: FakeVirsh, machinectl: FakeMachinectl
) -> None:
    virsh.add_domain("web", cid=7)
    machinectl.add_machine("web", cid=9)
    machinectl.add_machine("fedora", cid=4)
    assert resolve_vm_cid("web") == 7
    assert machinectl.calls == []
    assert resolve_vm_cid("fedora") == 4
    assert virsh.calls[-1]["argv"] == [*DUMPXML, "--domain=fedora"]


@pytest.mark.usefixtures("root")
def test_resolver_asks_only_the_one_chosen(
    virsh: FakeVirsh, machinectl: FakeMachinectl
) -> None:
    virsh.add_domain("web", cid=7)
    machinectl.add_machine("web", cid=9)
    assert resolve_vm_cid("web", resolver="machined") == 9
    assert virsh.calls == []
    assert resolve_vm_cid("web", resolver="libvirt") == 7


@pytest.mark.usefixtures("root", "virsh", "machinectl")
def test_an_unknown_name_is_a_value_error_saying_what_each_manager_said() -> None:
    with pytest.raises(ValueError) as raised:
        resolve_vm_cid("nope")
    assert str(raised.value) == (
        "vm: no VM named 'nope' is known (virsh --connect qemu:///system: "
        "error: failed to get domain 'nope'; machinectl: Could not get path "
        "to machine: No machine 'nope' known (machined knows running VMs "
        "only)); 'hvsock vms' lists the VMs and their CIDs"
    )


@pytest.mark.usefixtures("root")
@pytest.mark.parametrize("vsock", ["auto", "static"])
def test_a_domain_that_is_not_running_has_no_cid(virsh: FakeVirsh, vsock: str) -> None:
    # A static CID shows in the XML of a stopped domain, yet reaches nothing.
    virsh.add_domain("web", running=False, vsock=vsock, cid=5)
    with pytest.raises(ValueError, match="^vm: the libvirt domain 'web' is not "):
        resolve_vm_cid("web")


@pytest.mark.usefixtures("root")
def test_a_domain_without_a_vsock_device_says_how_to_add_one(
    virsh: FakeVirsh,
) -> None:
    virsh.add_domain("web", vsock=None)
    with pytest.raises(ValueError) as raised:
        resolve_vm_cid("web", option="allow")
    assert str(raised.value) == (
        "allow: the libvirt domain 'web' has no vsock device; add "
        "<vsock model='virtio'><cid auto='yes'/></vsock> to its <devices>"
    )


def test_a_machine_without_a_cid_is_a_container_or_has_no_vsock(
    machinectl: FakeMachinectl,
) -> None:
    machinectl.add_machine("box", cid=None, machine_class="container")
    with pytest.raises(ValueError, match="^vm: the machine 'box' .* has no vsock"):
        resolve_vm_cid("box")


@pytest.mark.usefixtures("root")
def test_a_strange_name_reaches_virsh_as_one_argument_and_no_shell(
    virsh: FakeVirsh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PWNED", str(tmp_path / "pwned"))
    monkeypatch.chdir(tmp_path)
    virsh.add_domain(STRANGE, cid=8)
    assert resolve_vm_cid(STRANGE) == 8
    assert virsh.calls[0]["argv"] == [*DUMPXML, f"--domain={STRANGE}"]
    assert not (tmp_path / "pwned").exists()


def test_a_strange_name_reaches_machinectl_after_the_options_end(
    machinectl: FakeMachinectl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # machined's names are host names, so no such machine; but the name
    # arrives whole, after "--", and comes back in the error as it is.
    monkeypatch.setenv("PWNED", str(tmp_path / "pwned"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as raised:
        resolve_vm_cid(STRANGE, resolver="machined")
    assert machinectl.calls[0]["argv"][-2:] == ["--", STRANGE]
    assert f"No machine '{STRANGE}' known" in str(raised.value)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.usefixtures("root")
def test_a_command_that_hangs_is_killed_after_the_timeout(virsh: FakeVirsh) -> None:
    virsh.add_domain("web")
    virsh.set_mode("hang")
    with pytest.raises(VMLookupError) as raised:
        resolve_vm_cid("web", timeout=5)
    assert str(raised.value) == (
        "vm: looking up the VM named 'web' failed: virsh: gave no answer in 5 s"
    )
    [call] = virsh.calls
    with pytest.raises(ProcessLookupError):
        os.kill(call["pid"], 0)  # killed and reaped, not left behind


@pytest.mark.usefixtures("root")
def test_a_hung_libvirt_does_not_hide_machined_s_vm(
    virsh: FakeVirsh, machinectl: FakeMachinectl
) -> None:
    virsh.set_mode("hang")
    machinectl.add_machine("fedora", cid=4)
    assert resolve_vm_cid("fedora", timeout=5) == 4


@pytest.mark.usefixtures("root")
def test_a_failing_libvirt_is_an_error_unless_another_finds_the_vm(
    virsh: FakeVirsh, machinectl: FakeMachinectl
) -> None:
    # The VM may be libvirt's: "no such VM" would be a guess.
    virsh.set_mode("no_daemon")
    with pytest.raises(VMLookupError, match="failed to connect to the hypervisor"):
        resolve_vm_cid("web")


@pytest.mark.usefixtures("bin_dir")
def test_without_virsh_or_machinectl_the_error_says_what_to_install() -> None:
    with pytest.raises(VMLookupError) as raised:
        resolve_vm_cid("web")
    assert str(raised.value) == (
        "vm: looking up the VM named 'web' needs virsh (libvirt) or machinectl "
        "(machined) on this Linux host, and none is on PATH; give the VM's CID "
        "instead"
    )


def test_machinectl_before_systemd_256_knows_no_cids(bin_dir: Path) -> None:
    machinectl = FakeMachinectl(bin_dir, systemd=255)
    machinectl.add_machine("fedora", cid=4)
    with pytest.raises(VMLookupError, match="systemd older than 256"):
        resolve_vm_cid("fedora")


def test_a_user_s_own_session_is_asked_after_the_system(
    virsh: FakeVirsh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    virsh.add_domain("mine", cid=6, uri="qemu:///session")
    assert resolve_vm_cid("mine") == 6
    assert [call["argv"][2] for call in virsh.calls] == [
        "qemu:///system",
        "qemu:///session",
    ]


def test_libvirt_default_uri_is_the_only_connection_asked(
    virsh: FakeVirsh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu:///session")
    virsh.add_domain("mine", cid=6, uri="qemu:///session")
    assert resolve_vm_cid("mine") == 6
    assert [call["argv"] for call in virsh.calls] == [
        ["--readonly", "dumpxml", "--domain=mine"]
    ]


@pytest.mark.parametrize("name", ["", " ", "a\0b", 3])
def test_a_vm_name_must_be_text(name: Any) -> None:
    with pytest.raises(ValueError, match="^vm must be a VM's name"):
        check_vm_name(name)


def test_resolver_is_libvirt_or_machined() -> None:
    assert check_resolver(None) is None
    assert check_resolver("machined") == "machined"
    with pytest.raises(ValueError, match="^resolver must be libvirt or machined"):
        check_resolver("virsh")


# Listing them.


@pytest.mark.usefixtures("root")
def test_list_vms_gives_each_manager_s_vms_and_their_cids(
    virsh: FakeVirsh, machinectl: FakeMachinectl
) -> None:
    virsh.add_domain("web", cid=7)
    virsh.add_domain("off", running=False)
    virsh.add_domain("bare", vsock=None)
    machinectl.add_machine("fedora", cid=4)
    machinectl.add_machine("plain", cid=None)
    machinectl.add_machine("box", cid=None, machine_class="container")
    assert list_vms() == [
        LinuxVM("bare", "libvirt", None, "no vsock device"),
        LinuxVM("off", "libvirt", None, "not running"),
        LinuxVM("web", "libvirt", 7, "running"),
        LinuxVM("fedora", "machined", 4, "running"),
        LinuxVM("plain", "machined", None, "no vsock device"),
    ]
    assert virsh.calls[0]["argv"] == [
        *("--readonly", "--connect", "qemu:///system", "list", "--all", "--name")
    ]
    assert machinectl.calls[0]["argv"] == ["--no-pager", "list", "--no-legend"]
    assert list_vms(resolver="machined")[0].name == "fedora"


@pytest.mark.usefixtures("bin_dir")
def test_list_vms_without_either_command_says_what_to_install() -> None:
    with pytest.raises(VMLookupError, match="^listing VMs needs virsh"):
        list_vms()


def test_list_vms_says_which_manager_failed(machinectl: FakeMachinectl) -> None:
    machinectl.set_mode("no_bus")
    with pytest.raises(VMLookupError) as raised:
        list_vms()
    assert str(raised.value) == (
        "listing systemd-machined's VMs failed: machinectl: Failed to connect "
        "to system scope bus via local transport: No such file or directory"
    )


# Through the vsock endpoints, on the host: no connection is made.


def test_a_client_string_takes_vm_in_place_of_cid() -> None:
    endpoint = clientFromString(MemoryReactor(), "vsock:vm=web:5000")
    assert isinstance(endpoint, VSockClientEndpoint)
    assert (endpoint._cid, endpoint._vm, endpoint._port) == (None, "web", 5000)
    assert repr(endpoint) == "<VSockClientEndpoint vm=web port=5000>"
    chosen = clientFromString(
        MemoryReactor(), "vsock:vm=web:port=5000:resolver=Machined"
    )
    assert isinstance(chosen, VSockClientEndpoint)
    assert chosen._resolver == "machined"


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:3:5000:vm=web", "^give cid or vm, not both"),
        ("vsock:cid=3:vm=web:port=5000", "^give cid or vm, not both"),
        ("vsock:port=5000", "^cid or vm is required"),
        ("vsock:vm=:port=5000", "^vm must be a VM's name"),
        ("vsock:vm=web:port=5000:resolver=xen", "^resolver must be libvirt or"),
        ("vsock:3:5000:resolver=libvirt", "^resolver chooses who looks vm up"),
    ],
)
def test_bad_vm_strings_name_the_option(description: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clientFromString(MemoryReactor(), description)


def test_the_endpoint_takes_one_of_cid_and_vm() -> None:
    with pytest.raises(ValueError, match="^give one of cid and vm .* got both"):
        VSockClientEndpoint(MemoryReactor(), 3, 80, vm="web")
    with pytest.raises(ValueError, match="^give one of cid and vm .* got neither"):
        VSockClientEndpoint(MemoryReactor(), None, 80)


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """
    The CIDs the client endpoints try, instead of connecting: each of the
    first two attempts of a test is refused, the third connects.
    """
    tried: list[int] = []

    def connect_once(
        self: VSockClientEndpoint, factory: IProtocolFactory, cid: int
    ) -> defer.Deferred[Any]:
        tried.append(cid)
        if len(tried) % 3:
            return defer.fail(error.ConnectionRefusedError())
        return defer.succeed(factory.buildProtocol(None))

    monkeypatch.setattr(VSockClientEndpoint, "_connect_once", connect_once)
    return tried


@pytest.mark.usefixtures("root")
@pytest_twisted.ensureDeferred
async def test_the_name_is_looked_up_each_time_connect_starts(
    virsh: FakeVirsh, attempts: list[int]
) -> None:
    virsh.add_domain("web", cid=7)
    endpoint = VSockClientEndpoint(reactor, None, 5000, vm="web", wait=60)
    assert virsh.calls == []  # not when it is built
    await endpoint.connect(Factory.forProtocol(Protocol))
    # With wait=, once before the first attempt: each retry goes to CID 7.
    assert (attempts, len(virsh.calls)) == ([7, 7, 7], 1)
    virsh.restart_domain("web", cid=8)  # a reboot may change it
    await endpoint.connect(Factory.forProtocol(Protocol))
    assert (attempts[3:], len(virsh.calls)) == ([8, 8, 8], 2)


@pytest_twisted.ensureDeferred
async def test_the_lookups_run_in_a_thread_not_the_reactor_s(
    attempts: list[int], listened: list[PeerGate], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commands may take seconds: the reactor goes on meanwhile.
    threads: list[int] = []

    def resolve(name: str, option: str = "vm", resolver: Any = None) -> int:
        threads.append(threading.get_ident())
        return 7

    monkeypatch.setattr(vsock, "resolve_vm_cid", resolve)
    await VSockClientEndpoint(reactor, None, 80, vm="web", wait=60).connect(
        Factory.forProtocol(Protocol)
    )
    await VSockServerEndpoint(reactor, 80, allow="web").listen(Factory())
    assert len(threads) == 2
    assert threading.get_ident() not in threads


@pytest.mark.usefixtures("root", "virsh")
@pytest_twisted.ensureDeferred
async def test_an_unknown_vm_fails_the_connect_before_any_attempt(
    attempts: list[int],
) -> None:
    endpoint = clientFromString(reactor, "vsock:vm=nope:port=5000:wait=60")
    with pytest.raises(ValueError, match="^vm: no VM named 'nope' is known"):
        await endpoint.connect(Factory.forProtocol(Protocol))
    assert attempts == []


@pytest.fixture
def listened(monkeypatch: pytest.MonkeyPatch) -> list[PeerGate]:
    """The gates vsock listeners would listen with, instead of listening."""
    gates: list[PeerGate] = []

    def listen(self: VSockServerEndpoint, factory: PeerGate) -> IListeningPort:
        gates.append(factory)
        return None  # type: ignore[return-value]

    monkeypatch.setattr(VSockServerEndpoint, "_listen", listen)
    return gates


@pytest.mark.usefixtures("root")
@pytest_twisted.ensureDeferred
async def test_a_listener_looks_up_the_names_in_allow_when_it_starts(
    virsh: FakeVirsh, listened: list[PeerGate]
) -> None:
    virsh.add_domain("web", cid=7)
    endpoint = serverFromString(reactor, "vsock:port=80:allow=3,web")
    assert virsh.calls == []  # not when it is built
    await endpoint.listen(Factory.forProtocol(Protocol))
    [gate] = listened
    assert gate.checks == (PeerAllowList(cid_ranges=((3, 3), (7, 7))),)


@pytest.mark.usefixtures("root", "virsh")
@pytest_twisted.ensureDeferred
async def test_an_unknown_name_in_allow_fails_the_listen_naming_allow(
    listened: list[PeerGate],
) -> None:
    endpoint = serverFromString(reactor, "vsock:port=80:allow=host,nope")
    with pytest.raises(ValueError, match="^allow: no VM named 'nope' is known"):
        await endpoint.listen(Factory.forProtocol(Protocol))
    assert listened == []


def test_names_in_a_cid_list_wait_for_the_listener() -> None:
    allow = parse_cid_allow("3,web-1,My VM,local-host")
    assert allow.cid_ranges == ((1, 2), (3, 3))
    assert allow.vm_names == {"web-1", "My VM"}
    assert parse_cid_allow(str(allow)) == allow
    resolved = allow.resolved_cids({"web-1": 9, "My VM": 3}.__getitem__)
    assert resolved == PeerAllowList(cid_ranges=((1, 2), (3, 3), (9, 9)))
    assert resolved.resolved_cids(lambda name: 1 // 0) is resolved


# Kernel tier: a name mapped to CID 1, in the guest.

kernel = pytest.mark.kernel


@pytest.fixture
def loop_vm(virsh: FakeVirsh, root: None) -> Iterator[FakeVirsh]:
    """libvirt's stand-in knows "loop", at CID 1, and "other", at CID 5."""
    virsh.add_domain("loop", cid=1)
    virsh.add_domain("other", cid=5)
    yield virsh


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_a_vm_name_reaches_a_real_listener(loop_vm: FakeVirsh, io: str) -> None:
    port = await VSockServerEndpoint(reactor, 0, io=io).listen(factory_for(Echo))
    try:
        client = clientFromString(
            reactor, f"vsock:vm=loop:port={port.getHost().port}:io={io}"
        )
        protocol = await client.connect(factory_for(lambda: SendAndCollect(b"ping")))
        received = await protocol.finished
    finally:
        await port.stopListening()
    assert received == (hashlib.sha256(b"ping").hexdigest(), 4)
    assert [call["argv"][-1] for call in loop_vm.calls] == ["--domain=loop"]


@kernel
@pytest.mark.parametrize(("allow", "echoed"), [("loop", 4), ("other", 0)])
@pytest_twisted.ensureDeferred
async def test_a_listener_allows_the_vm_a_name_in_allow_stands_for(
    loop_vm: FakeVirsh, allow: str, echoed: int
) -> None:
    endpoint = serverFromString(reactor, f"vsock:0:allow={allow}")
    port = await endpoint.listen(factory_for(Echo))
    try:
        client = clientFromString(reactor, f"vsock:1:{port.getHost().port}")
        protocol = await client.connect(factory_for(lambda: SendAndCollect(b"ping")))
        _, count = await protocol.finished
    finally:
        await port.stopListening()
    assert count == echoed
    assert port.refused == (0 if echoed else 1)
