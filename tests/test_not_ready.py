"""
What "not there yet" is for each backend, on the failures its endpoints
really produce: a client waiting (``wait=``) through the real endpoint for a
server that appears after a few attempts connects and carries data; what
retrying cannot mend fails at once; a wait that ends, or is cancelled,
leaves no socket or thread behind.

Hybrid vsock and hyperkit run against the fake VMMs on real Unix sockets,
Hyper-V against the stand-in for Windows' socket layer, vsock over the
guest's loopback (kernel tier).
"""

from __future__ import annotations

import errno
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import clientFromString
from twisted.internet.interfaces import IListeningPort, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure

from twisted_hvsock._not_ready import (
    hyperv_not_ready,
    vmm_socket_not_ready,
    vsock_not_ready,
)
from twisted_hvsock._sockets import hyperv
from twisted_hvsock._waiting import BACKOFF, Retryable, WaitingClientEndpoint
from twisted_hvsock.address import CID_LOCAL
from twisted_hvsock.errors import (
    HyperVAdminRequiredError,
    HyperVUnavailableError,
    VSockUnavailableError,
    WaitTimeoutError,
)
from twisted_hvsock.hybrid_vsock import HybridVSockClientEndpoint
from twisted_hvsock.hyperkit import GUEST_CID, HyperkitClientEndpoint
from twisted_hvsock.hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_ids import VM_LOOPBACK
from twisted_hvsock.vsock import VSockClientEndpoint, VSockServerEndpoint

from .support.fake_hyperv import (
    WSAEACCES,
    WSAECONNREFUSED,
    WSAEHOSTUNREACH,
    WSAENETUNREACH,
    WSAETIMEDOUT,
    FakeHyperV,
)
from .support.fake_vmms import FakeHybridVSock, FakeHyperkit
from .support.leaks import busy_threads, counts_settle, open_fds
from .support.streams import Echo, SendAndCollect, digest, factory_for
from .support.unix import listen_as_guest
from .support.vsock import free_vsock_port

GUEST_PORT = 52
SERVICE = uuid.UUID("3049197c-9a4e-4fbf-9367-97f792f16994")
MESSAGE = b"are you there yet?"

PREDICATES = [vsock_not_ready, hyperv_not_ready, vmm_socket_not_ready]


def staged(
    predicate: Retryable, stages: dict[int, Callable[[], object]]
) -> tuple[Retryable, list[Failure]]:
    """
    ``predicate``, which also records each failure it is asked about and,
    after the n-th, runs ``stages[n]``: the server comes up step by step as
    the client's attempts fail, before the pause that precedes the next.
    """
    seen: list[Failure] = []

    def retryable(failure: Failure) -> bool:
        seen.append(failure)
        stage = stages.get(len(seen))
        if stage is not None:
            stage()
        return predicate(failure)

    return retryable, seen


async def exchange(endpoint: IStreamClientEndpoint) -> None:
    """Connect through ``endpoint`` to an echo server; the message comes back."""
    client = await endpoint.connect(factory_for(lambda: SendAndCollect(MESSAGE)))
    assert await client.finished == (digest(MESSAGE), len(MESSAGE))


async def failure_of(connecting: Deferred[Any]) -> Failure:
    try:
        await connecting
    except BaseException:
        return Failure()
    raise AssertionError("connected")


def is_enoent(failure: Failure) -> bool:
    # The handshake backends name the socket file and keep the errno beside.
    value = failure.value
    number = getattr(value, "errno", None) or getattr(value, "osError", None)
    return isinstance(value, error.ConnectError) and number == errno.ENOENT


# What each predicate says of errors built by hand, for the cases no test
# here can make happen for real.


@pytest.mark.parametrize(
    "err",
    [
        ValueError("cid must be ..."),
        VSockUnavailableError(errno.EAFNOSUPPORT, "no AF_VSOCK"),
        HyperVUnavailableError("no AF_HYPERV"),
        HyperVAdminRequiredError("Administrator"),
        error.ConnectError(errno.EACCES, "Permission denied"),
        error.ConnectError(errno.EINVAL, "Invalid argument"),
        error.ConnectingCancelledError(None),
        CancelledError(),
        WaitTimeoutError("vsock://3:5000", 1, 2, error.ConnectionRefusedError()),
    ],
    ids=lambda err: type(err).__name__,
)
@pytest.mark.parametrize("predicate", PREDICATES, ids=["vsock", "hyperv", "vmm"])
def test_what_waiting_cannot_mend_is_never_retried(
    predicate: Retryable, err: BaseException
) -> None:
    assert not predicate(Failure(err))


@pytest.mark.parametrize(
    "err",
    [
        error.ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        error.TimeoutError(),
        error.TCPTimedOutError(errno.ETIMEDOUT, "timed out"),
    ],
    ids=lambda err: type(err).__name__,
)
@pytest.mark.parametrize("predicate", PREDICATES, ids=["vsock", "hyperv", "vmm"])
def test_a_refusal_or_silence_is_retried_by_every_backend(
    predicate: Retryable, err: BaseException
) -> None:
    assert predicate(Failure(err))


def test_an_unreachable_vm_is_retried_by_vsock_and_hyperv_only() -> None:
    unreachable = Failure(error.NoRouteError(errno.ENODEV, "no transport"))
    assert vsock_not_ready(unreachable)
    assert hyperv_not_ready(unreachable)
    assert not vmm_socket_not_ready(unreachable)


def test_a_missing_socket_file_is_retried_by_vmm_sockets_only() -> None:
    missing = Failure(error.ConnectError(errno.ENOENT, "No such file"))
    assert vmm_socket_not_ready(missing)
    assert not vsock_not_ready(missing)


# Hybrid vsock and hyperkit: the VMM's Unix socket.


@pytest_twisted.ensureDeferred
async def test_hybrid_vsock_waits_for_the_vmm_then_the_guest_port(
    sockdir: str, io: str
) -> None:
    fake = FakeHybridVSock(os.path.join(sockdir, "v.sock"))
    guest_ports: list[IListeningPort] = []

    def guest_listens() -> None:
        guest = os.path.join(sockdir, "guest52")
        guest_ports.append(listen_as_guest(guest, Factory.forProtocol(Echo)))
        fake.guests[GUEST_PORT] = guest

    retryable, seen = staged(vmm_socket_not_ready, {2: fake.start, 4: guest_listens})
    one_attempt = HybridVSockClientEndpoint(reactor, fake.path, GUEST_PORT, io=io)
    try:
        await exchange(WaitingClientEndpoint(reactor, one_attempt, 30, retryable))
    finally:
        await fake.stop()
        for port in guest_ports:
            await port.stopListening()
    assert [is_enoent(f) for f in seen] == [True, True, False, False]
    for refusal in seen[2:]:
        assert refusal.check(error.ConnectionRefusedError)
        assert "closed the connection without answering" in str(refusal.value)


@pytest_twisted.ensureDeferred
async def test_hyperkit_waits_for_its_socket_file(sockdir: str, io: str) -> None:
    fake = FakeHyperkit(sockdir)
    guest = os.path.join(sockdir, "guest52")
    guest_port = listen_as_guest(guest, Factory.forProtocol(Echo))
    fake.guests[(GUEST_CID, GUEST_PORT)] = guest
    retryable, seen = staged(vmm_socket_not_ready, {2: fake.start})
    one_attempt = HyperkitClientEndpoint(reactor, sockdir, GUEST_PORT, io=io)
    try:
        await exchange(WaitingClientEndpoint(reactor, one_attempt, 30, retryable))
    finally:
        await fake.stop()
        await guest_port.stopListening()
    assert [is_enoent(f) for f in seen] == [True, True]


@pytest.mark.parametrize(
    "vmm",
    ["no socket file", "nobody listens", "closes", "silent", "under a file"],
)
@pytest_twisted.ensureDeferred
async def test_what_a_vmm_socket_retries(sockdir: str, io: str, vmm: str) -> None:
    path = os.path.join(sockdir, "v.sock")
    fake: FakeHybridVSock | None = None
    if vmm == "nobody listens":
        with socket.socket(socket.AF_UNIX) as bound:
            bound.bind(path)  # the socket file stays, as a VMM that died leaves it
    elif vmm == "under a file":
        open(os.path.join(sockdir, "file"), "w").close()
        path = os.path.join(sockdir, "file", "v.sock")
    elif vmm in ("closes", "silent"):
        fake = FakeHybridVSock(path, behaviour="close" if vmm == "closes" else vmm)
        fake.start()
    try:
        reason = await failure_of(
            HybridVSockClientEndpoint(
                reactor, path, GUEST_PORT, timeout=0.2, io=io
            ).connect(Factory.forProtocol(Protocol))
        )
    finally:
        if fake is not None:
            await fake.stop()
    assert vmm_socket_not_ready(reason) == (vmm != "under a file"), reason


@pytest_twisted.ensureDeferred
async def test_a_wait_that_ends_says_so_and_leaves_nothing_behind(
    sockdir: str, io: str
) -> None:
    # A VMM that is up but whose guest never listens: each attempt makes a
    # socket, connects and is refused in the handshake.
    fake = FakeHybridVSock(os.path.join(sockdir, "v.sock"))
    fake.start()
    threads, fds = busy_threads(), open_fds()
    one_attempt = HybridVSockClientEndpoint(reactor, fake.path, GUEST_PORT, io=io)
    waiting = WaitingClientEndpoint(
        reactor, one_attempt, 0.5, vmm_socket_not_ready, target="v.sock port 52"
    )
    try:
        reason = await failure_of(waiting.connect(Factory.forProtocol(Protocol)))
        await counts_settle(threads, fds)
        assert (busy_threads(), open_fds()) == (threads, fds)
    finally:
        await fake.stop()
    err = reason.value
    assert isinstance(err, WaitTimeoutError)
    # On a busy machine the wait can end while an attempt is still in its
    # handshake: then it is cancelled, and its header may not have arrived.
    in_flight = isinstance(err.last_error, error.TimeoutError)
    sent = len(fake.headers)
    assert err.attempts > 1
    if in_flight:
        assert sent in (err.attempts - 1, err.attempts)
        assert "was still connecting when the wait ended" in str(err.last_error)
    else:
        assert err.attempts == sent
        assert isinstance(err.last_error, error.ConnectionRefusedError)
    assert 0.5 <= err.elapsed <= 0.5 + BACKOFF.longest
    assert str(err).startswith("gave up connecting to v.sock port 52 after ")


@pytest_twisted.ensureDeferred
async def test_cancelling_during_the_handshake_closes_the_attempt(
    sockdir: str, io: str
) -> None:
    fake = FakeHybridVSock(os.path.join(sockdir, "v.sock"), behaviour="silent")
    fake.start()
    threads, fds = busy_threads(), open_fds()
    one_attempt = HybridVSockClientEndpoint(reactor, fake.path, GUEST_PORT, io=io)
    connecting = WaitingClientEndpoint(
        reactor, one_attempt, 30, vmm_socket_not_ready
    ).connect(Factory.forProtocol(Protocol))
    try:
        while not fake.headers:  # the VMM has the CONNECT line
            await deferLater(reactor, 0.01, lambda: None)
        connecting.cancel()
        reason = await failure_of(connecting)
        await fake.connections[0].lost
        await counts_settle(threads, fds)
        assert (busy_threads(), open_fds()) == (threads, fds)
    finally:
        await fake.stop()
    assert reason.check(CancelledError)
    assert len(fake.headers) == 1


# Hyper-V, on the stand-in for Windows' socket layer.


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> FakeHyperV:
    fake = FakeHyperV()
    monkeypatch.setattr(hyperv, "_socket_module", fake.module)
    return fake


@pytest.mark.parametrize(
    ("winsock_code", "retried"),
    [
        (WSAECONNREFUSED, True),
        (WSAETIMEDOUT, True),
        (WSAEHOSTUNREACH, True),
        (WSAENETUNREACH, True),
        (WSAEACCES, False),
    ],
)
@pytest_twisted.ensureDeferred
async def test_what_hyperv_retries(
    windows: FakeHyperV, winsock_code: int, retried: bool
) -> None:
    vm_id = uuid.uuid4()
    windows.connect_errors[vm_id] = winsock_code
    reason = await failure_of(
        HyperVClientEndpoint(reactor, vm_id, SERVICE).connect(Factory())
    )
    assert hyperv_not_ready(reason) == retried, reason


@pytest_twisted.ensureDeferred
async def test_hyperv_waits_for_the_service(windows: FakeHyperV) -> None:
    ports: list[IListeningPort] = []

    def service_listens() -> None:
        listening = HyperVServerEndpoint(reactor, SERVICE).listen(
            Factory.forProtocol(Echo)
        )
        listening.addCallback(ports.append)

    retryable, seen = staged(hyperv_not_ready, {2: service_listens})
    one_attempt = HyperVClientEndpoint(reactor, VM_LOOPBACK, SERVICE)
    try:
        await exchange(WaitingClientEndpoint(reactor, one_attempt, 30, retryable))
    finally:
        for port in ports:
            await port.stopListening()
    assert [f.check(error.ConnectionRefusedError) for f in seen] == [
        error.ConnectionRefusedError
    ] * 2


# vsock, over the guest's loopback.

kernel = pytest.mark.kernel


@kernel
@pytest_twisted.ensureDeferred
async def test_vsock_waits_for_its_listener(io: str) -> None:
    port = free_vsock_port()
    ports: list[IListeningPort] = []

    def server_listens() -> None:
        listening = VSockServerEndpoint(reactor, port).listen(Factory.forProtocol(Echo))
        listening.addCallback(ports.append)

    retryable, seen = staged(vsock_not_ready, {2: server_listens})
    one_attempt = VSockClientEndpoint(reactor, CID_LOCAL, port, io=io)
    try:
        await exchange(WaitingClientEndpoint(reactor, one_attempt, 30, retryable))
    finally:
        for listening in ports:
            await listening.stopListening()
    assert [f.check(error.ConnectionRefusedError) for f in seen] == [
        error.ConnectionRefusedError
    ] * 2


@kernel
@pytest_twisted.ensureDeferred
async def test_vsock_with_no_listener_ever_gives_up_and_leaves_nothing(
    io: str,
) -> None:
    threads, fds = busy_threads(), open_fds()
    one_attempt = VSockClientEndpoint(reactor, CID_LOCAL, free_vsock_port(), io=io)
    waiting = WaitingClientEndpoint(reactor, one_attempt, 1, vsock_not_ready)
    reason = await failure_of(waiting.connect(Factory.forProtocol(Protocol)))
    await counts_settle(threads, fds)
    assert (busy_threads(), open_fds()) == (threads, fds)
    err = reason.value
    assert isinstance(err, WaitTimeoutError)
    assert err.attempts > 1
    assert isinstance(err.last_error, error.ConnectionRefusedError)
    assert 1 <= err.elapsed <= 1 + BACKOFF.longest


# wait= as users write it: the endpoints' keyword and the strings' option.


@pytest_twisted.ensureDeferred
async def test_a_hybridvsock_string_with_wait_connects_once_the_vmm_starts(
    sockdir: str, io: str
) -> None:
    fake = FakeHybridVSock(os.path.join(sockdir, "v.sock"))
    guest = os.path.join(sockdir, "guest52")
    guest_port = listen_as_guest(guest, Factory.forProtocol(Echo))
    fake.guests[GUEST_PORT] = guest
    client = clientFromString(
        reactor, f"hybridvsock:{fake.path}:{GUEST_PORT}:wait=30:io={io}"
    )
    # The client is asked first; the VMM's socket appears a second later.
    starting = reactor.callLater(1, fake.start)
    try:
        await exchange(client)
    finally:
        if starting.active():
            starting.cancel()
        await fake.stop()
        await guest_port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_wait_on_an_endpoint_gives_up_with_the_count_and_leaves_nothing(
    sockdir: str, io: str
) -> None:
    threads, fds = busy_threads(), open_fds()
    path = os.path.join(sockdir, "never.sock")
    client = HybridVSockClientEndpoint(reactor, path, GUEST_PORT, io=io, wait=0.5)
    reason = await failure_of(client.connect(Factory.forProtocol(Protocol)))
    await counts_settle(threads, fds)
    assert (busy_threads(), open_fds()) == (threads, fds)
    err = reason.value
    assert isinstance(err, WaitTimeoutError)
    assert err.attempts > 1
    assert str(err).startswith(
        f"gave up connecting to the VMM socket {path!r} (guest port {GUEST_PORT}) "
        "after "
    )
    assert is_enoent(Failure(err.last_error))
    assert err.elapsed <= 0.5 + BACKOFF.longest


@pytest.mark.parametrize(
    ("description", "wait"),
    [
        ("vsock:3:5000:wait=60", 60.0),
        ("vsock:3:5000", None),
        ("hvsock:vm=parent:service=5000:wait=2.5", 2.5),
        ("hyperkit:path=/vm:port=80:wait=10", 10.0),
        ("hybridvsock:path=/v.sock:port=52:wait=0.5", 0.5),
    ],
)
def test_client_strings_carry_wait(description: str, wait: float | None) -> None:
    endpoint: Any = clientFromString(MemoryReactor(), description)
    # The handshake backends' clients keep it with their VMM socket.
    socket = getattr(endpoint, "_socket", None)
    assert (endpoint._wait if socket is None else socket.wait) == wait


@pytest.mark.parametrize("text", ["0", "-1", "never", "inf"])
def test_a_bad_wait_names_the_option(text: str) -> None:
    with pytest.raises(ValueError, match="^wait must be a positive number"):
        clientFromString(MemoryReactor(), f"vsock:3:5000:wait={text}")
    with pytest.raises(ValueError, match="^wait must be a positive, finite number"):
        VSockClientEndpoint(MemoryReactor(), 3, 5000, wait=0)


@kernel
@pytest_twisted.ensureDeferred
async def test_a_vsock_string_with_wait_connects_once_the_server_listens(
    io: str,
) -> None:
    port = free_vsock_port()
    client = clientFromString(reactor, f"vsock:1:{port}:wait=60:io={io}")
    ports: list[IListeningPort] = []

    def server_listens() -> None:
        listening = VSockServerEndpoint(reactor, port, io=io).listen(
            Factory.forProtocol(Echo)
        )
        listening.addCallback(ports.append)

    # The client starts first; the server listens about a second later.
    starting = reactor.callLater(1, server_listens)
    try:
        await exchange(client)
    finally:
        if starting.active():
            starting.cancel()
        for listening in ports:
            await listening.stopListening()
    assert len(ports) == 1


@kernel
@pytest_twisted.ensureDeferred
async def test_cancelling_a_vsock_wait_stops_it_and_leaves_nothing(io: str) -> None:
    threads, fds = busy_threads(), open_fds()
    client = VSockClientEndpoint(reactor, CID_LOCAL, free_vsock_port(), io=io, wait=60)
    connecting = client.connect(Factory.forProtocol(Protocol))
    await deferLater(reactor, 0.5, lambda: None)  # a few attempts in
    connecting.cancel()
    reason = await failure_of(connecting)
    assert reason.check(CancelledError)
    await counts_settle(threads, fds)
    assert (busy_threads(), open_fds()) == (threads, fds)
