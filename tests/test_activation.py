"""
Socket activation: ``vsock:systemd=<index|name>`` and ``vsock:fd=<n>``, a
listener on a socket this process inherited listening.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.endpoints import _SystemdParser, serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from twisted.python.systemd import ListenFDs

from twisted_hvsock import _activation
from twisted_hvsock._activation import inherited_listeners, systemd_descriptor
from twisted_hvsock.address import CID_ANY, VSockAddress
from twisted_hvsock.vsock import VSockServerEndpoint

from .support.vsock import CID_LOCAL

LISTENERS = ListenFDs([3, 4], ("web", "admin"))


@pytest.mark.parametrize(
    ("which", "fd"), [("0", 3), ("1", 4), ("admin", 4), ("web", 3)]
)
def test_systemd_names_a_descriptor_by_index_or_name(which: str, fd: int) -> None:
    assert systemd_descriptor(which, LISTENERS) == fd


@pytest.mark.parametrize("which", ["2", "-1", "api", ""])
def test_systemd_names_only_what_was_passed(which: str) -> None:
    with pytest.raises(ValueError, match="^systemd must be an index from 0 to 1 or"):
        systemd_descriptor(which, LISTENERS)


def test_systemd_without_inherited_descriptors_says_so() -> None:
    with pytest.raises(ValueError, match="^systemd=0: this process inherited no"):
        systemd_descriptor("0", ListenFDs([], ()))


@pytest.fixture
def unread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if this process had not looked for inherited descriptors yet."""
    monkeypatch.setattr(_activation, "_inherited", None)
    yield


@pytest.mark.usefixtures("unread")
def test_the_variables_are_read_once_and_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # Set after Twisted's endpoints module read (and deleted) its own copy,
    # so they are read here.
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "2")
    monkeypatch.setenv("LISTEN_FDNAMES", "web:admin")
    found = inherited_listeners()
    assert found.inheritedNamedDescriptors() == {"web": 3, "admin": 4}
    assert not {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} & set(os.environ)
    assert inherited_listeners() is found


@pytest.mark.usefixtures("unread")
def test_variables_for_another_process_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "1")
    monkeypatch.setattr(_SystemdParser, "_sddaemon", ListenFDs([], ()))
    assert inherited_listeners().inheritedDescriptors() == []
    assert os.environ["LISTEN_FDS"] == "1"


def test_systemd_strings_resolve_the_descriptor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_activation, "_inherited", LISTENERS)
    endpoint = serverFromString(MemoryReactor(), "vsock:systemd=admin")
    assert isinstance(endpoint, VSockServerEndpoint)
    assert endpoint._fd == 4
    assert repr(endpoint) == "<VSockServerEndpoint systemd=admin>"
    with pytest.raises(ValueError, match="^systemd must be an index"):
        serverFromString(MemoryReactor(), "vsock:systemd=api")


def test_fd_strings_take_the_number() -> None:
    endpoint = serverFromString(MemoryReactor(), "vsock:fd=7:io=threads")
    assert isinstance(endpoint, VSockServerEndpoint)
    assert (endpoint._fd, endpoint._io) == (7, "threads")


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:fd=x", "^fd must be a descriptor number"),
        ("vsock:fd=-1", "^fd must be a descriptor number"),
        ("vsock:80:fd=3", "^give one of port .* got port and fd"),
        ("vsock:fd=3:cid=local", "^cid and backlog: the socket fd names is bound"),
        ("vsock:fd=3:backlog=5", "^cid and backlog"),
    ],
)
def test_bad_inherited_socket_strings_name_the_option(
    description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        serverFromString(MemoryReactor(), description)


def listen_failure(fd: int, io: str = "reactor") -> Failure:
    endpoint = VSockServerEndpoint(MemoryReactor(), fd=fd, io=io)  # type: ignore[arg-type]
    failures: list[Failure] = []
    endpoint.listen(Factory.forProtocol(Protocol)).addErrback(failures.append)
    [failure] = failures
    return failure


@pytest.fixture(params=["reactor", "threads"])
def io(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


def test_a_regular_file_is_refused_and_left_open(tmp_path: Path, io: str) -> None:
    with open(tmp_path / "f", "w") as file:
        failure = listen_failure(file.fileno(), io)
        assert failure.check(error.CannotListenError)
        assert f"fd={file.fileno()}: descriptor" in str(failure.value)
        assert "is not a socket" in str(failure.value)
        os.fstat(file.fileno())  # still open


def test_a_tcp_socket_is_refused(io: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        failure = listen_failure(tcp.fileno(), io)
        assert failure.check(error.CannotListenError)
        assert "is a AF_INET SOCK_STREAM socket, not an AF_VSOCK" in str(failure.value)
        assert tcp.getsockname()[0] == "127.0.0.1"  # still open


def test_a_closed_number_is_refused(io: str) -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    failure = listen_failure(fd, io)
    assert failure.check(error.CannotListenError)
    assert f"fd={fd}: descriptor {fd} is not open" in str(failure.value)


# Kernel tier: real AF_VSOCK over CID 1 inside the guest.

kernel = pytest.mark.kernel


def listening_vsock() -> socket.socket:
    skt = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    skt.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
    skt.listen()
    return skt


class Hello(Protocol):
    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"hello")
        self.transport.loseConnection()


def fetch(port: int, request: bytes = b"") -> bytes:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as client:
        # A hang guard: twistd takes tens of seconds to start in the guest.
        client.settimeout(600)
        client.connect((CID_LOCAL, port))
        if request:
            # Only then: a server that writes and closes at once may be gone
            # before a send, which would fail with EPIPE, empty or not.
            client.sendall(request)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received


@kernel
@pytest_twisted.ensureDeferred
async def test_an_inherited_listener_serves_and_reports_its_address(io: str) -> None:
    inherited = listening_vsock()
    bound = inherited.getsockname()
    endpoint = VSockServerEndpoint(reactor, fd=inherited.detach(), io=io)  # type: ignore[arg-type]
    port: Any = await endpoint.listen(Factory.forProtocol(Hello))
    fd = port.socket.fileno()
    try:
        assert port.getHost() == VSockAddress(CID_ANY, bound[1])
        assert await deferToThread(fetch, bound[1]) == b"hello"
    finally:
        await port.stopListening()
    # The port owned the descriptor and closed it.
    with pytest.raises(OSError):
        os.fstat(fd)


@kernel
def test_a_vsock_socket_that_does_not_listen_is_refused(io: str) -> None:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as unbound:
        failure = listen_failure(unbound.fileno(), io)
        assert failure.check(error.CannotListenError)
        assert "is an AF_VSOCK socket that is not listening" in str(failure.value)


# What systemd does between fork and exec: the listening socket becomes
# descriptor 3, the variables name this process, then the service runs.
_AS_SYSTEMD = textwrap.dedent(
    """
    import os, sys
    fd = int(sys.argv[1])
    os.dup2(fd, 3)
    os.close(fd)
    os.environ.update(
        LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="web"
    )
    os.execv(sys.argv[2], sys.argv[2:])
    """
)


@kernel
@pytest.mark.parametrize(("which", "engine"), [("0", "reactor"), ("web", "threads")])
def test_twistd_web_serves_on_the_socket_systemd_passed(
    tmp_path: Path, which: str, engine: str
) -> None:
    (tmp_path / "index.html").write_text("<p>activated</p>")
    inherited = listening_vsock()
    port = inherited.getsockname()[1]
    twistd = Path(sys.executable).with_name("twistd")
    listen = f"vsock:systemd={which}:io={engine}"
    server = subprocess.Popen(
        [
            *(sys.executable, "-c", _AS_SYSTEMD, str(inherited.fileno())),
            *(str(twistd), "-n", "--pidfile=", "web"),
            *("--listen", listen, "--path", str(tmp_path)),
        ],
        pass_fds=(inherited.fileno(),),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    inherited.close()  # the service's now, as systemd's copy would be
    try:
        page = fetch(port, b"GET / HTTP/1.0\r\n\r\n")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=120)
    assert page.startswith(b"HTTP/1.0 200"), output
    assert page.endswith(b"<p>activated</p>"), output
