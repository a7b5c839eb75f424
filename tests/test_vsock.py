"""
The vsock endpoints: argument checks and error paths on the host; data,
half-close, backpressure, TLS and real peers (twistd, socat) in the guest.
"""

from __future__ import annotations

import ctypes
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IStreamClientEndpoint, IStreamServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.internet.threads import deferToThread
from zope.interface.verify import verifyObject

from twisted_hvsock import VSockUnavailableError
from twisted_hvsock._checks import default_backlog
from twisted_hvsock._engines.reactor import VSockClient, VSockConnector
from twisted_hvsock._sockets.vsock import (
    buffer_size,
    kernel_connect_timeout,
)
from twisted_hvsock._sockets.vsock_client import VSockTarget
from twisted_hvsock.address import CID_LOCAL, VSockAddress
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from .support.burst import connect_while_blocked, run_burst
from .support.streams import (
    Echo,
    SendAndCollect,
    digest,
    factory_for,
    payload,
)
from .support.vsock import connect_when_listening, free_vsock_port

MiB = 1024 * 1024


# Host tier: no socket is connected.


def test_endpoints_provide_twisted_interfaces() -> None:
    assert verifyObject(IStreamServerEndpoint, VSockServerEndpoint(reactor, 80))
    assert verifyObject(IStreamClientEndpoint, VSockClientEndpoint(reactor, 3, 80))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: VSockServerEndpoint(reactor, -1), "^port must be"),
        (lambda: VSockServerEndpoint(reactor, 2**32 - 1), "^port must be"),
        (lambda: VSockServerEndpoint(reactor, 80, cid=2**32), "^cid must be"),
        (lambda: VSockServerEndpoint(reactor, 80, backlog=0), "^backlog must be"),
        (lambda: VSockClientEndpoint(reactor, 2**32 - 1, 80), "only for listening"),
        (lambda: VSockClientEndpoint(reactor, 3, "80"), "^port must be"),  # type: ignore[arg-type]
        (lambda: VSockClientEndpoint(reactor, 3, 80, timeout=0), "^timeout must be"),
        (lambda: VSockServerEndpoint(reactor, 80, type="dgram"), "^type must be"),  # type: ignore[arg-type]
        (lambda: VSockClientEndpoint(reactor, 3, 80, type="raw"), "^type must be"),  # type: ignore[arg-type]
        (lambda: VSockServerEndpoint(reactor, 80, buffer=0), "^buffer must be"),
        (lambda: VSockClientEndpoint(reactor, 3, 80, buffer=2**32), "^buffer must be"),
        (lambda: VSockClientEndpoint(reactor, 3, 80, buffer="1M"), "^buffer must be"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_value_error_naming_them(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_listen_without_af_vsock_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(socket, "AF_VSOCK")
    result: list[Any] = []
    VSockServerEndpoint(MemoryReactorClock(), 5000).listen(Factory()).addErrback(
        result.append
    )
    [reason] = result
    assert reason.check(error.CannotListenError)
    assert "has no socket.AF_VSOCK" in str(reason.value)


def test_connect_without_af_vsock_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(socket, "AF_VSOCK")
    clock = MemoryReactorClock()
    result: list[Any] = []
    VSockClientEndpoint(clock, 3, 5000).connect(Factory()).addErrback(result.append)
    clock.advance(0)
    [reason] = result
    assert reason.check(VSockUnavailableError)
    assert "vsock endpoints need Linux" in str(reason.value)


def test_an_endpoint_s_repr_names_a_seqpacket_type() -> None:
    assert repr(VSockServerEndpoint(reactor, 80, type="seqpacket")) == (
        "<VSockServerEndpoint vsock://any:80 type=seqpacket>"
    )
    assert repr(VSockClientEndpoint(reactor, 3, 80, type="seqpacket")) == (
        "<VSockClientEndpoint vsock://3:80 type=seqpacket>"
    )
    assert (
        repr(VSockClientEndpoint(reactor, 3, 80))
        == "<VSockClientEndpoint vsock://3:80>"
    )


def test_tls_endpoints_refuse_an_endpoint_that_carries_messages() -> None:
    from twisted_hvsock.tls import TLSClientEndpoint, TLSServerEndpoint

    options: Any = object()
    with pytest.raises(ValueError, match="TLSServerEndpoint: TLS needs a byte stream"):
        TLSServerEndpoint(VSockServerEndpoint(reactor, 80, type="seqpacket"), options)
    with pytest.raises(ValueError, match="TLSClientEndpoint: TLS needs a byte stream"):
        TLSClientEndpoint(
            VSockClientEndpoint(reactor, 3, 80, type="seqpacket"), options
        )


# Kernel tier: real AF_VSOCK sockets over CID 1 inside the guest.

kernel = pytest.mark.kernel


async def listen(factory: Factory, port: int = 0) -> Any:
    return await VSockServerEndpoint(reactor, port).listen(factory)


async def connect(factory: Factory, port: int, **kwargs: Any) -> Any:
    return await VSockClientEndpoint(reactor, CID_LOCAL, port, **kwargs).connect(
        factory
    )


@kernel
@pytest_twisted.ensureDeferred
async def test_port_zero_listens_on_a_port_get_host_reports() -> None:
    server = factory_for(Protocol)
    port = await listen(server)
    try:
        host = port.getHost()
        assert isinstance(host, VSockAddress)
        assert 0 < host.port < 0xFFFFFFFF
        client = await connect(Factory.forProtocol(Protocol), host.port)
        assert client.transport.getPeer() == VSockAddress(CID_LOCAL, host.port)
        assert isinstance(client.transport.getHost(), VSockAddress)
        client.transport.loseConnection()
    finally:
        await port.stopListening()


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_a_loopback_client_s_host_is_cid_1_not_the_wildcard(io: str) -> None:
    """
    The kernel's getsockname() gives a loopback client the any-CID wildcard;
    getHost() gives the CID it connects from (docs/endpoint-strings.rst).
    """
    port = await VSockServerEndpoint(reactor, 0, io=io).listen(factory_for(Protocol))
    try:
        client = await VSockClientEndpoint(
            reactor, CID_LOCAL, port.getHost().port, io=io
        ).connect(Factory.forProtocol(Protocol))
        host = client.transport.getHost()
        assert host.cid == CID_LOCAL
        assert str(host) == f"vsock://1:{host.port}"
        client.transport.loseConnection()
    finally:
        await port.stopListening()


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_buffer_sets_each_end_s_connection_buffer(io: str) -> None:
    # Different sizes at each end, so each reads back its own: the accepted
    # socket inherits the listener's, the client sets its own before connect.
    accepted: Deferred[Any] = Deferred()

    class Keep(Protocol):
        def connectionMade(self) -> None:
            accepted.callback(self.transport)

    server = serverFromString(reactor, f"vsock:port=0:io={io}:buffer={MiB}")
    port = await server.listen(Factory.forProtocol(Keep))
    try:
        client = clientFromString(
            reactor, f"vsock:cid=1:port={port.getHost().port}:io={io}:buffer={4 * MiB}"
        )
        connected = await client.connect(Factory.forProtocol(Protocol))
        handle = (await accepted).getHandle()
        assert buffer_size(handle) == MiB
        assert buffer_size(connected.transport.getHandle()) == 4 * MiB
        connected.transport.loseConnection()
    finally:
        await port.stopListening()


def receive_timeout(skt: socket.socket) -> bytes:
    """SO_RCVTIMEO's struct timeval, through libc: CPython refuses it for AF_VSOCK."""
    libc = ctypes.CDLL(None, use_errno=True)
    value = ctypes.create_string_buffer(16)
    size = ctypes.c_uint32(16)
    level, option = socket.SOL_SOCKET, socket.SO_RCVTIMEO
    assert libc.getsockopt(skt.fileno(), level, option, value, ctypes.byref(size)) == 0
    return value.raw[: size.value]


@kernel
@pytest_twisted.ensureDeferred
async def test_threads_accepted_sockets_do_not_inherit_the_accept_timeout() -> None:
    # The threads engine's accept thread wakes every 0.1 s (SO_RCVTIMEO on
    # the listener); a connection's reads must still block for as long as
    # they need, and nothing resets them: the kernel gives an accepted
    # socket a timeout of its own.
    accepted: Deferred[Any] = Deferred()

    class Keep(Protocol):
        def connectionMade(self) -> None:
            accepted.callback(self.transport)

    server = VSockServerEndpoint(reactor, 0, io="threads")
    port = await server.listen(Factory.forProtocol(Keep))
    try:
        client = await connect(Factory.forProtocol(Protocol), port.getHost().port)
        handle = (await accepted).getHandle()
        assert receive_timeout(handle) == bytes(16)
        client.transport.loseConnection()
    finally:
        await port.stopListening()


class EchoServers(Factory):
    """Echo servers, counted; ``ended`` fires once ``expected`` of them ended."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.built = self.lost = 0
        self.ended: Deferred[None] = Deferred()

    def buildProtocol(self, addr: Any) -> Protocol:
        self.built += 1
        return CountedEcho(self)


class CountedEcho(Echo):
    def __init__(self, servers: EchoServers) -> None:
        self.servers = servers

    def connectionLost(self, reason: Any = None) -> None:
        self.servers.lost += 1
        if self.servers.lost == self.servers.expected:
            self.servers.ended.callback(None)


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_a_default_listener_refuses_none_of_a_burst_of_connects(io: str) -> None:
    # A connect that finds an AF_VSOCK accept queue full is reset at once
    # (TCP would retry its SYN): the default backlog must hold what a client
    # connects faster than the listener accepts, and the listener must
    # drain it all and go on serving.
    sequential, concurrent = 2000, 200
    server = EchoServers(sequential + concurrent)
    port = await VSockServerEndpoint(reactor, 0, io=io).listen(server)
    try:
        failures = await deferToThread(
            run_burst, port.getHost().port, sequential, concurrent
        )
        assert failures == {"sequential": {}, "concurrent": {}}
        # Every connection of the burst reaches a protocol and ends (the
        # timeout only turns a lost one into a failure instead of a hang).
        await server.ended.addTimeout(600, reactor)
        data = payload(64 * 1024)
        client = await connect(
            factory_for(lambda: SendAndCollect(data)), port.getHost().port
        )
        assert await client.finished == (digest(data), len(data))
        assert server.built == sequential + concurrent + 1
    finally:
        await port.stopListening()


@kernel
@pytest_twisted.ensureDeferred
async def test_connects_made_while_the_reactor_is_busy_wait_in_the_queue() -> None:
    # While the loop below runs, the reactor accepts nothing: every connect
    # must find room in the kernel's queue. The reactor engine only: the
    # threads engine's accept thread would drain the queue meanwhile,
    # whatever its length.
    port = await VSockServerEndpoint(reactor, 0, io="reactor").listen(Factory())
    try:
        failures = connect_while_blocked(
            socket.AF_VSOCK,
            (CID_LOCAL, port.getHost().port),
            min(500, default_backlog()),
        )
    finally:
        await port.stopListening()
    assert failures == []


@kernel
def test_the_kernel_waits_as_long_as_the_endpoint_timeout() -> None:
    # The kernel's own default (2 s) would otherwise cut the attempt short.
    connector = VSockConnector(
        VSockTarget(CID_LOCAL, 5000), Factory(), 45.5, MemoryReactorClock()
    )
    client = connector._makeTransport()
    try:
        assert kernel_connect_timeout(client.socket) == 46.5
    finally:
        client.socket.close()


@kernel
@pytest_twisted.ensureDeferred
async def test_connecting_where_nothing_listens_is_refused() -> None:
    port = await listen(Factory.forProtocol(Protocol))
    free_port = port.getHost().port
    await port.stopListening()
    with pytest.raises(error.ConnectionRefusedError, match="nothing listens"):
        await connect(Factory.forProtocol(Protocol), free_port)


@kernel
@pytest_twisted.ensureDeferred
async def test_a_connect_that_never_completes_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The loopback transport answers at once, so stall the attempt itself.
    monkeypatch.setattr(VSockClient, "doConnect", lambda self: None)
    started = time.monotonic()
    with pytest.raises(error.TimeoutError):
        await connect(Factory.forProtocol(Protocol), 5000, timeout=0.5)
    assert time.monotonic() - started >= 0.5


@kernel
def test_privileged_port_without_capability_is_explained(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_NET_BIND_SERVICE")
    script = textwrap.dedent(
        """
        from twisted.internet import reactor
        from twisted.internet.protocol import Factory
        from twisted_hvsock.vsock import VSockServerEndpoint
        d = VSockServerEndpoint(reactor, 80).listen(Factory())
        d.addErrback(lambda f: print(type(f.value).__name__, f.value))
        """
    )
    result = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-net_bind_service",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "CannotListenError" in result.stdout
    assert "CAP_NET_BIND_SERVICE" in result.stdout


@kernel
def test_twistd_web_serves_a_page_over_vsock(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"served over vsock\n")
    port = free_vsock_port()
    twistd = Path(sys.executable).with_name("twistd")
    command = [str(twistd), "-n", "--pidfile=", "web", "--listen", f"vsock:port={port}"]
    server = subprocess.Popen(
        [*command, "--path", str(tmp_path)], cwd=tmp_path, stderr=subprocess.STDOUT
    )
    try:
        with connect_when_listening(port) as skt:
            skt.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            response = b"".join(iter(lambda: skt.recv(65536), b""))
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert response.startswith(b"HTTP/1.0 200")
    assert response.endswith(b"\r\n\r\nserved over vsock\n")


@kernel
@pytest_twisted.ensureDeferred
async def test_socat_talks_to_a_twisted_echo_server() -> None:
    data = payload(1 * MiB)
    port = await listen(Factory.forProtocol(Echo))
    try:
        result = await deferToThread(
            subprocess.run,
            [
                "socat",
                "-t",
                "30",
                "-",
                f"VSOCK-CONNECT:{CID_LOCAL}:{port.getHost().port}",
            ],
            input=data,
            capture_output=True,
            timeout=120,
        )
    finally:
        await port.stopListening()
    assert result.returncode == 0, result.stderr
    assert digest(result.stdout) == digest(data)
