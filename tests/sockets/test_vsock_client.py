"""
What a vsock client may ask beyond ``(cid, port)``: ``bind`` (its source
port, a reserved one for ``bind=privileged``) and ``tohost=yes``
(``VMADDR_FLAG_TO_HOST``). The address bytes, the option grammar and the
errors on the host; real connects, on both engines, in the guest.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure

from twisted_hvsock._sockets.vsock import explain_connect_error
from twisted_hvsock._sockets.vsock_client import (
    SOCKADDR_VM,
    VMADDR_FLAG_TO_HOST,
    bind_source,
    sockaddr_vm,
)
from twisted_hvsock.address import CID_ANY, CID_LOCAL, VSockAddress
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from ..support.vsock import free_vsock_port

# Host tier: no socket connects.


class _SockaddrVM(ctypes.Structure):
    """``struct sockaddr_vm`` as <linux/vm_sockets.h> declares it."""

    _fields_ = [
        ("svm_family", ctypes.c_ushort),  # sa_family_t
        ("svm_reserved1", ctypes.c_ushort),
        ("svm_port", ctypes.c_uint),
        ("svm_cid", ctypes.c_uint),
        ("svm_flags", ctypes.c_uint8),
        ("svm_zero", ctypes.c_ubyte * 3),
    ]


@pytest.mark.skipif(not hasattr(socket, "AF_VSOCK"), reason="Linux only")
@pytest.mark.parametrize("flags", [0, VMADDR_FLAG_TO_HOST])
def test_sockaddr_vm_has_the_kernels_layout(flags: int) -> None:
    kernel = _SockaddrVM(
        svm_family=socket.AF_VSOCK, svm_port=5000, svm_cid=4, svm_flags=flags
    )
    assert ctypes.sizeof(_SockaddrVM) == SOCKADDR_VM.size == 16
    assert sockaddr_vm(4, 5000, flags) == bytes(kernel)
    assert _SockaddrVM.svm_flags.offset == 12


@pytest.mark.skipif(not hasattr(socket, "AF_VSOCK"), reason="Linux only")
def test_sockaddr_vm_reaches_the_extremes_of_its_fields() -> None:
    raw = sockaddr_vm(0xFFFFFFFE, 0xFFFFFFFE, VMADDR_FLAG_TO_HOST)
    parsed = _SockaddrVM.from_buffer_copy(raw)
    assert (parsed.svm_cid, parsed.svm_port, parsed.svm_flags) == (
        0xFFFFFFFE,
        0xFFFFFFFE,
        VMADDR_FLAG_TO_HOST,
    )


def test_client_strings_carry_bind_and_tohost() -> None:
    endpoint: Any = clientFromString(
        MemoryReactor(), "vsock:3:80:bind=privileged:tohost=yes"
    )
    assert (endpoint._bind, endpoint._to_host) == ("privileged", True)
    numbered: Any = clientFromString(MemoryReactor(), "vsock:3:80:bind=1000")
    assert (numbered._bind, numbered._to_host) == (1000, False)
    plain: Any = clientFromString(MemoryReactor(), "vsock:3:80")
    assert (plain._bind, plain._to_host) == (None, False)
    shouting: Any = clientFromString(MemoryReactor(), "vsock:3:80:bind=PRIVILEGED")
    assert shouting._bind == "privileged"


@pytest.mark.parametrize("text", ["0", "4294967295", "-1", "root", "1e3", ""])
def test_a_bad_bind_names_bind_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(
        ValueError,
        match=r"^bind must be a port from 1 to 4294967294, or privileged \(",
    ):
        clientFromString(MemoryReactor(), f"vsock:3:80:bind={text}")


@pytest.mark.parametrize("bind", [0, 2**32 - 1, True, "1000", "any", 10.0])
def test_the_endpoint_checks_bind(bind: Any) -> None:
    with pytest.raises(ValueError, match="^bind must be a port from 1 to"):
        VSockClientEndpoint(reactor, 3, 80, bind=bind)


def test_the_endpoint_checks_to_host() -> None:
    with pytest.raises(ValueError, match="^to_host must be True or False"):
        VSockClientEndpoint(reactor, 3, 80, to_host="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^tohost must be true or false"):
        clientFromString(MemoryReactor(), "vsock:3:80:tohost=maybe")


class _Binding:
    """A socket stand-in whose ``bind`` fails with ``errors`` in turn."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.tried: list[tuple[int, int]] = []

    def bind(self, address: tuple[int, int]) -> None:
        self.tried.append(address)
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, os.strerror(code))


def test_bind_privileged_takes_the_highest_free_reserved_port() -> None:
    skt: Any = _Binding(errno.EADDRINUSE, errno.EADDRINUSE)
    bind_source(skt, "privileged")
    assert skt.tried == [(CID_ANY, 1023), (CID_ANY, 1022), (CID_ANY, 1021)]


def test_bind_privileged_with_every_reserved_port_taken_says_so() -> None:
    skt: Any = _Binding(*[errno.EADDRINUSE] * 1023)
    with pytest.raises(error.ConnectBindError, match="every reserved vsock port"):
        bind_source(skt, "privileged")
    assert skt.tried[-1] == (CID_ANY, 1)


@pytest.mark.parametrize("bind", ["privileged", 80])
def test_a_reserved_port_without_the_capability_says_what_is_needed(
    bind: Any,
) -> None:
    skt: Any = _Binding(errno.EACCES)
    with pytest.raises(error.ConnectBindError) as raised:
        bind_source(skt, bind)
    assert f"bind={bind}: vsock ports below 1024 need root or CAP_NET_BIND_SERVICE" in (
        str(raised.value)
    )
    assert len(skt.tried) == 1  # no use trying lower ports


def test_a_port_in_use_is_named() -> None:
    skt: Any = _Binding(errno.EADDRINUSE)
    with pytest.raises(error.ConnectBindError, match="vsock port 5000 is already in"):
        bind_source(skt, 5000)


@pytest.mark.parametrize(
    ("cid", "to_host", "words"),
    [
        (4, True, "tohost=yes sends the connection to the host, through a guest-to"),
        (2, False, "the host are reached through a guest-to-host transport"),
        (1, True, "CID 1 needs the loopback transport"),
        (4, False, "through vhost_vsock, and no VM with that CID runs"),
    ],
)
def test_no_transport_says_which_one_is_missing(
    cid: int, to_host: bool, words: str
) -> None:
    code = errno.ENODEV
    mapped = explain_connect_error(
        error.getConnectError((code, os.strerror(code))),
        (cid, 80),
        to_host=to_host,
    )
    assert isinstance(mapped, error.NoRouteError)
    assert f"no vsock transport reaches CID {cid}: " in str(mapped)
    assert words in str(mapped)


def test_a_kernel_without_the_flag_says_tohost_needs_linux_5_11() -> None:
    code = errno.EINVAL
    mapped = explain_connect_error(
        error.getConnectError((code, os.strerror(code))), (4, 80), to_host=True
    )
    assert "tohost=yes needs Linux 5.11 or later" in str(mapped)


def test_a_bind_error_passes_unchanged_through_the_connect_errors() -> None:
    failed = error.ConnectBindError(errno.EINVAL, "bind=1000: Invalid argument")
    assert explain_connect_error(failed, (4, 80), to_host=True) is failed


# Kernel tier: real AF_VSOCK sockets over CID 1 inside the guest, where the
# tests run as root.

kernel = pytest.mark.kernel


class _TellPort(Protocol):
    """Says the peer's port, and hangs up."""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(str(self.transport.getPeer().port).encode())
        self.transport.loseConnection()


class _Collect(Protocol):
    """Collects what arrives; ``ended`` fires with it at the end."""

    def __init__(self) -> None:
        self.received = b""
        self.host: IAddress | None = None
        self.ended: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.host = self.transport.getHost()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.ended.callback(self.received)


async def _connect_and_read(
    server: VSockServerEndpoint, io: str, **options: Any
) -> tuple[_Collect, int]:
    """Connect to ``server`` from CID 1; the client and the listener's refusals."""
    port: Any = await server.listen(Factory.forProtocol(_TellPort))
    try:
        client = _Collect()
        endpoint = VSockClientEndpoint(
            reactor, CID_LOCAL, port.getHost().port, io=io, **options
        )
        await endpoint.connect(Factory.forProtocol(lambda: client))
        await client.ended
    finally:
        await port.stopListening()
    return client, port.refused


@kernel
@pytest_twisted.ensureDeferred
async def test_bind_privileged_gets_through_a_privileged_listener(io: str) -> None:
    server = VSockServerEndpoint(reactor, 0, io=io, privileged=True)
    client, refused = await _connect_and_read(server, io, bind="privileged")
    assert refused == 0
    assert isinstance(client.host, VSockAddress)
    assert client.received == str(client.host.port).encode()
    assert client.host.port < 1024


@kernel
@pytest_twisted.ensureDeferred
async def test_without_bind_a_privileged_listener_refuses_the_client(io: str) -> None:
    server = VSockServerEndpoint(reactor, 0, io=io, privileged=True)
    client, refused = await _connect_and_read(server, io)
    assert (client.received, refused) == (b"", 1)


@kernel
@pytest_twisted.ensureDeferred
async def test_bind_port_connects_from_that_port(io: str) -> None:
    source = free_vsock_port()
    server = VSockServerEndpoint(reactor, 0, io=io)
    client, _ = await _connect_and_read(server, io, bind=source)
    assert client.host == VSockAddress(CID_LOCAL, source)
    assert client.received == str(source).encode()


@kernel
@pytest_twisted.ensureDeferred
async def test_bind_a_port_in_use_fails_naming_it(io: str) -> None:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as holder:
        holder.bind((CID_ANY, socket.VMADDR_PORT_ANY))
        taken = holder.getsockname()[1]
        endpoint = VSockClientEndpoint(reactor, CID_LOCAL, 9, io=io, bind=taken)
        with pytest.raises(error.ConnectBindError, match=f"vsock port {taken} is"):
            await endpoint.connect(Factory.forProtocol(Protocol))


# Drops root before connecting: os.setuid to nobody clears the capabilities
# (the interpreter lives under /root, which nobody may read, so setpriv
# --reuid cannot start it; everything is imported first for the same reason).
_UNPRIVILEGED_CLIENT = """
import os, sys
from twisted.internet import reactor, task
from twisted.internet.protocol import Factory, Protocol
import twisted_hvsock._engines.reactor, twisted_hvsock._engines.threads
from twisted_hvsock.vsock import VSockClientEndpoint

os.setgroups([])
os.setgid(65534)
os.setuid(65534)
with open("/proc/self/status") as status:
    print(next(line for line in status if line.startswith("CapEff")).strip())

def main(reactor):
    endpoint = VSockClientEndpoint(reactor, 1, 9, io=sys.argv[1], bind="privileged")
    d = endpoint.connect(Factory.forProtocol(Protocol))
    return d.addErrback(lambda f: print(type(f.value).__name__, f.value))

task.react(main)
"""


@kernel
def test_an_unprivileged_bind_privileged_gets_the_capability_error(io: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _UNPRIVILEGED_CLIENT, io],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "CapEff:\t0000000000000000"
    assert lines[1].startswith("ConnectBindError Couldn't bind: 13: bind=privileged:")
    assert "need root or CAP_NET_BIND_SERVICE" in lines[1]


@kernel
@pytest_twisted.ensureDeferred
async def test_tohost_reaches_a_loopback_listener_and_data_flows(io: str) -> None:
    # At CID 1 the loopback carries the connection before the flag is read.
    server = VSockServerEndpoint(reactor, 0, io=io)
    client, _ = await _connect_and_read(server, io, to_host=True)
    assert isinstance(client.host, VSockAddress)
    assert client.received == str(client.host.port).encode()


@kernel
@pytest_twisted.ensureDeferred
async def test_tohost_without_a_guest_to_host_transport_says_so(io: str) -> None:
    # The test guest has the loopback only: CID 3 with the flag needs virtio.
    endpoint = VSockClientEndpoint(reactor, 3, 9, io=io, to_host=True)
    with pytest.raises(error.NoRouteError, match="tohost=yes sends the connection"):
        await endpoint.connect(Factory.forProtocol(Protocol))


_TRACED_CLIENT = """
import sys
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

class Hello(Protocol):
    def connectionMade(self):
        self.transport.write(b"hello over the flag")
        self.transport.loseConnection()

class Collect(Protocol):
    def __init__(self):
        self.received, self.ended = b"", Deferred()
    def dataReceived(self, data):
        self.received += data
    def connectionLost(self, reason):
        self.ended.callback(self.received)

async def main(reactor):
    io = sys.argv[1]
    server = VSockServerEndpoint(reactor, 0, io=io)
    port = await server.listen(Factory.forProtocol(Hello))
    print(port.getHost().port)
    client = Collect()
    endpoint = VSockClientEndpoint(reactor, 1, port.getHost().port, io=io, to_host=True)
    await endpoint.connect(Factory.forProtocol(lambda: client))
    print((await client.ended).decode())
    await port.stopListening()

task.react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
"""


@kernel
def test_strace_shows_the_flag_in_the_connect(io: str, tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is needed to see the connect's address")
    trace = tmp_path / "connects"
    result = subprocess.run(
        [
            *("strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace)),
            *(sys.executable, "-c", _TRACED_CLIENT, io),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    port, received = result.stdout.splitlines()[:2]
    assert received == "hello over the flag"
    # strace writes large ports in hex; the reactor engine's connect shows
    # twice (EINPROGRESS, then EISCONN), the thread engine's once.
    connects = [
        line
        for line in trace.read_text().splitlines()
        if (found := re.search(r"AF_VSOCK, .*svm_port=(0x[0-9a-f]+|[0-9]+)", line))
        and int(found.group(1), 0) == int(port)
    ]
    assert connects, trace.read_text()
    assert all("svm_flags=VMADDR_FLAG_TO_HOST" in line for line in connects)
    assert "svm_cid=VMADDR_CID_LOCAL" in connects[0]
