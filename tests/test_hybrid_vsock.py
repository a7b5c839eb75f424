"""
Hybrid vsock endpoints (Firecracker, Cloud Hypervisor, vhost-device-vsock)
on real Unix sockets, against a fake VMM that answers as the real ones do
and in every awkward way a client must survive; on both I/O engines.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.address import UNIXAddress
from twisted.internet.defer import CancelledError
from twisted.internet.endpoints import clientFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactor

from twisted_hvsock._checks import default_backlog
from twisted_hvsock.hybrid_vsock import (
    HybridVSockClientEndpoint,
    HybridVSockServerEndpoint,
)

from .support.burst import connect_while_blocked
from .support.fake_vmms import FakeHybridVSock
from .support.leaks import busy_threads, counts_settle, open_fds
from .support.streams import (
    ChunkProducer,
    Echo,
    SendAndCollect,
    digest,
    factory_for,
    payload,
)
from .support.unix import (
    Collect,
    MiB,
    connect_as_vmm,
    echo_repeatedly_as_vmm,
    exchange_as_vmm,
    listen_as_guest,
)

GUEST_PORT = 52


async def start_vmm(
    sockdir: str, guest_factory: Factory | None, **kwargs: object
) -> FakeHybridVSock:
    """A fake VMM at ``<sockdir>/v.sock`` whose guest port 52 runs ``guest_factory``."""
    fake = FakeHybridVSock(os.path.join(sockdir, "v.sock"), **kwargs)  # type: ignore[arg-type]
    if guest_factory is not None:
        guest = os.path.join(sockdir, "guest52")
        port = listen_as_guest(guest, guest_factory)
        fake.guests[GUEST_PORT] = guest
        fake.guest_port = port  # type: ignore[attr-defined]
    fake.start()
    return fake


async def stop_vmm(fake: FakeHybridVSock) -> None:
    await fake.stop()
    guest_port = getattr(fake, "guest_port", None)
    if guest_port is not None:
        await guest_port.stopListening()


@pytest.mark.parametrize("behaviour", ["firecracker", "vhost", "split"])
@pytest_twisted.ensureDeferred
async def test_16_mib_each_way_arrive_intact_host_to_guest(
    sockdir: str, io: str, behaviour: str
) -> None:
    to_guest, to_host = payload(16 * MiB), payload(16 * MiB)
    guest = factory_for(lambda: SendAndCollect(to_host))
    fake = await start_vmm(sockdir, guest, behaviour=behaviour)
    try:
        client = await HybridVSockClientEndpoint(
            reactor, fake.path, GUEST_PORT, io=io
        ).connect(factory_for(lambda: SendAndCollect(to_guest)))
        host_got = await client.finished
        guest_got = await guest.built[0].finished  # type: ignore[attr-defined]
    finally:
        await stop_vmm(fake)
    assert fake.headers == [b"CONNECT 52\n"]
    assert host_got == (digest(to_host), len(to_host))
    assert guest_got == (digest(to_guest), len(to_guest))


@pytest_twisted.ensureDeferred
async def test_16_mib_each_way_arrive_intact_guest_to_host(
    sockdir: str, io: str
) -> None:
    uds = os.path.join(sockdir, "v.sock")

    def is_a_socket() -> None:
        assert stat.S_ISSOCK(os.stat(f"{uds}_5000").st_mode)

    await exchange_as_vmm(
        HybridVSockServerEndpoint(reactor, uds, 5000, io=io),
        f"{uds}_5000",
        16 * MiB,
        is_a_socket,
    )


@pytest_twisted.ensureDeferred
async def test_listener_accepts_repeated_connections(sockdir: str, io: str) -> None:
    uds = os.path.join(sockdir, "v.sock")
    await echo_repeatedly_as_vmm(
        HybridVSockServerEndpoint(reactor, uds, 7, io=io), f"{uds}_7"
    )


@pytest_twisted.ensureDeferred
async def test_connects_made_while_the_reactor_is_busy_wait_in_the_queue(
    sockdir: str,
) -> None:
    # A non-blocking connect (a Python socket with a timeout is one) that
    # finds an AF_UNIX accept queue full fails at once with EAGAIN; the
    # default backlog must hold a burst the reactor cannot accept yet. The
    # reactor engine only: the threads engine's accept thread would drain
    # the queue meanwhile, whatever its length.
    uds = os.path.join(sockdir, "v.sock")
    port = await HybridVSockServerEndpoint(reactor, uds, 9, io="reactor").listen(
        Factory.forProtocol(Protocol)
    )
    try:
        failures = connect_while_blocked(
            socket.AF_UNIX, f"{uds}_9", min(500, default_backlog()), timeout=30
        )
    finally:
        await port.stopListening()
    assert failures == []


@pytest_twisted.ensureDeferred
async def test_bytes_sent_with_the_ok_line_reach_the_protocol_right_after_it_connects(
    sockdir: str, io: str
) -> None:
    fake = await start_vmm(
        sockdir, Factory.forProtocol(Echo), behaviour="data", early=b"first!"
    )
    events: list[object] = []
    try:
        connecting = HybridVSockClientEndpoint(
            reactor, fake.path, GUEST_PORT, io=io
        ).connect(Factory.forProtocol(lambda: Collect(events)))
        connecting.addCallback(lambda protocol: events.append("connected") or protocol)
        client = await connecting
        assert isinstance(client.transport.getPeer(), UNIXAddress)
        assert os.fsdecode(client.transport.getPeer().name) == fake.path
        client.transport.write(b"echoed")
        client.transport.loseWriteConnection()
        await client.lost
    finally:
        await stop_vmm(fake)
    assert events[:3] == ["made", "connected", b"first!"]
    assert client.data() == b"first!echoed"


@pytest_twisted.ensureDeferred
async def test_a_streaming_producer_is_paused_when_the_guest_does_not_read(
    sockdir: str, io: str
) -> None:
    class Stalled(Protocol):
        def connectionMade(self) -> None:
            self.transport.pauseProducing()  # type: ignore[union-attr]

    fake = await start_vmm(sockdir, Factory.forProtocol(Stalled))
    try:
        client = await HybridVSockClientEndpoint(
            reactor, fake.path, GUEST_PORT, io=io
        ).connect(Factory.forProtocol(Protocol))
        producer = ChunkProducer(client.transport, 64 * MiB)
        producer.start()
        sent_at_pause = await producer.first_pause
        client.transport.abortConnection()
    finally:
        await stop_vmm(fake)
    assert sent_at_pause < 64 * MiB


@pytest.mark.parametrize(
    ("behaviour", "guest_listens", "words"),
    [
        ("close", True, "closed the connection without answering"),
        ("firecracker", False, "closed the connection without answering"),
        ("garbage", True, "answered b'ERR no such port': expected OK <port>"),
        ("long", True, "answered with a line over 32 bytes long"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_anything_but_an_ok_line_is_a_refusal_and_closes_the_socket(
    sockdir: str, io: str, behaviour: str, guest_listens: bool, words: str
) -> None:
    fake = await start_vmm(
        sockdir,
        Factory.forProtocol(Echo) if guest_listens else None,
        behaviour=behaviour,
    )
    factory = factory_for(Protocol)
    try:
        with pytest.raises(error.ConnectionRefusedError, match=words):
            await HybridVSockClientEndpoint(
                reactor, fake.path, GUEST_PORT, io=io
            ).connect(factory)
        # The fake sees its end close: the client let go of the socket.
        await fake.connections[0].lost
    finally:
        await stop_vmm(fake)
    assert factory.built == []  # type: ignore[attr-defined]


@pytest_twisted.ensureDeferred
async def test_a_silent_vmm_times_out_and_the_socket_is_closed(
    sockdir: str, io: str
) -> None:
    fake = await start_vmm(sockdir, Factory.forProtocol(Echo), behaviour="silent")
    try:
        with pytest.raises(error.TimeoutError, match="did not answer within 0.2"):
            await HybridVSockClientEndpoint(
                reactor, fake.path, GUEST_PORT, timeout=0.2, io=io
            ).connect(Factory.forProtocol(Protocol))
        await fake.connections[0].lost
    finally:
        await stop_vmm(fake)


@pytest_twisted.ensureDeferred
async def test_cancelling_during_the_handshake_closes_the_socket(
    sockdir: str, io: str
) -> None:
    fake = await start_vmm(sockdir, Factory.forProtocol(Echo), behaviour="silent")
    try:
        connecting = HybridVSockClientEndpoint(
            reactor, fake.path, GUEST_PORT, io=io
        ).connect(Factory.forProtocol(Protocol))
        while not fake.headers:  # the VMM has the CONNECT line
            await deferLater(reactor, 0.01, lambda: None)
        connecting.cancel()
        with pytest.raises(CancelledError):
            await connecting
        await fake.connections[0].lost
    finally:
        await stop_vmm(fake)


@pytest_twisted.ensureDeferred
async def test_failed_handshakes_leave_no_descriptor_or_thread_behind(
    sockdir: str, io: str
) -> None:
    fakes = []
    for behaviour in ("close", "garbage", "silent"):
        os.mkdir(os.path.join(sockdir, behaviour))
        fakes.append(
            await start_vmm(os.path.join(sockdir, behaviour), None, behaviour=behaviour)
        )
    threads, fds = busy_threads(), open_fds()
    try:
        for _ in range(5):
            for fake in fakes:
                with pytest.raises((error.ConnectionRefusedError, error.TimeoutError)):
                    await HybridVSockClientEndpoint(
                        reactor, fake.path, GUEST_PORT, timeout=0.1, io=io
                    ).connect(Factory.forProtocol(Protocol))
        await counts_settle(threads, fds)
        assert (busy_threads(), open_fds()) == (threads, fds)
    finally:
        for fake in fakes:
            await stop_vmm(fake)


@pytest_twisted.ensureDeferred
async def test_no_vmm_socket_is_a_connect_error_naming_the_path(
    sockdir: str, io: str
) -> None:
    path = os.path.join(sockdir, "absent.sock")
    with pytest.raises(error.ConnectError) as raised:
        await HybridVSockClientEndpoint(reactor, path, GUEST_PORT, io=io).connect(
            Factory.forProtocol(Protocol)
        )
    # In words, with the file it tried; not "2: No such file or directory".
    assert f"the VMM socket {path!r}" in str(raised.value)
    assert "No such file or directory" in str(raised.value)
    assert ": 2:" not in str(raised.value)
    assert raised.value.errno == errno.ENOENT  # type: ignore[attr-defined]


def test_a_path_with_a_nul_byte_is_refused_not_cut_short() -> None:
    # The kernel would connect to the path up to the NUL.
    with pytest.raises(ValueError, match="^path '/run/v.sock\\\\x00x' holds a NUL"):
        HybridVSockClientEndpoint(MemoryReactor(), "/run/v.sock\0x", GUEST_PORT)
    with pytest.raises(ValueError, match="NUL byte"):
        clientFromString(MemoryReactor(), "hybridvsock:path=/run/v.sock\0x:port=5")


@pytest.mark.parametrize(("mode", "expected"), [(None, 0o600), (0o660, 0o660)])
@pytest_twisted.ensureDeferred
async def test_the_listening_socket_is_owner_only_unless_mode_says(
    sockdir: str, io: str, mode: int | None, expected: int
) -> None:
    uds = os.path.join(sockdir, "v.sock")
    kwargs = {} if mode is None else {"mode": mode}
    port = await HybridVSockServerEndpoint(reactor, uds, 9, io=io, **kwargs).listen(
        Factory.forProtocol(Protocol)
    )
    try:
        assert stat.S_IMODE(os.stat(f"{uds}_9").st_mode) == expected
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_stopping_removes_the_socket_file_the_listener_bound(
    sockdir: str, io: str
) -> None:
    uds = os.path.join(sockdir, "v.sock")
    port = await HybridVSockServerEndpoint(reactor, uds, 9, io=io).listen(
        Factory.forProtocol(Protocol)
    )
    assert stat.S_ISSOCK(os.lstat(f"{uds}_9").st_mode)
    await port.stopListening()
    assert not os.path.lexists(f"{uds}_9")


@pytest.mark.parametrize("replacement", ["regular file", "another socket"])
@pytest_twisted.ensureDeferred
async def test_stopping_leaves_a_file_put_over_the_socket_while_listening(
    sockdir: str, io: str, replacement: str
) -> None:
    uds = os.path.join(sockdir, "v.sock")
    path = f"{uds}_9"
    port = await HybridVSockServerEndpoint(reactor, uds, 9, io=io).listen(
        Factory.forProtocol(Protocol)
    )
    other = socket.socket(socket.AF_UNIX)
    try:
        # Someone else's file takes the path while the port listens.
        if replacement == "regular file":
            Path(f"{path}.new").write_bytes(b"precious")
            os.replace(f"{path}.new", path)
        else:
            os.unlink(path)
            other.bind(path)
        before = os.lstat(path)
        await port.stopListening()
        after = os.lstat(path)
        assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
        if replacement == "regular file":
            assert Path(path).read_bytes() == b"precious"
    finally:
        other.close()


@pytest_twisted.ensureDeferred
async def test_a_stale_socket_file_is_replaced(sockdir: str, io: str) -> None:
    uds = os.path.join(sockdir, "v.sock")
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(f"{uds}_9")  # bound, never listening, closed: left behind
    port = await HybridVSockServerEndpoint(reactor, uds, 9, io=io).listen(
        Factory.forProtocol(Echo)
    )
    try:
        vmm = await connect_as_vmm(
            f"{uds}_9", factory_for(lambda: SendAndCollect(b"hi"))
        )
        assert await vmm.finished == (digest(b"hi"), 2)
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_regular_file_in_the_way_is_never_removed(
    sockdir: str, io: str
) -> None:
    uds = os.path.join(sockdir, "v.sock")
    with open(f"{uds}_9", "w") as precious:
        precious.write("keep me")
    with pytest.raises(error.CannotListenError, match="is not a socket"):
        await HybridVSockServerEndpoint(reactor, uds, 9, io=io).listen(
            Factory.forProtocol(Protocol)
        )
    with open(f"{uds}_9") as precious:
        assert precious.read() == "keep me"


@pytest_twisted.ensureDeferred
async def test_a_live_listener_is_not_replaced(sockdir: str, io: str) -> None:
    uds = os.path.join(sockdir, "v.sock")
    first = await HybridVSockServerEndpoint(reactor, uds, 9, io=io).listen(
        Factory.forProtocol(Protocol)
    )
    try:
        with pytest.raises(error.CannotListenError, match="another listener"):
            await HybridVSockServerEndpoint(reactor, uds, 9, io=io).listen(
                Factory.forProtocol(Protocol)
            )
    finally:
        await first.stopListening()


def test_a_socket_path_too_long_for_sun_path_is_a_value_error() -> None:
    long_path = "/tmp/" + "d" * 120
    with pytest.raises(ValueError, match="path .* relative path"):
        HybridVSockClientEndpoint(reactor, long_path, 52)
    with pytest.raises(ValueError, match="path .* relative path"):
        HybridVSockServerEndpoint(reactor, "/tmp/" + "d" * 100, 5000)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"path": "", "port": 52}, "path must be"),
        ({"path": "v.sock", "port": -1}, "port must be"),
        ({"path": "v.sock", "port": 0}, "port must be given"),
        ({"path": "v.sock", "port": 52, "mode": 0o1000}, "mode must be"),
        ({"path": "v.sock", "port": 52, "backlog": 0}, "backlog must be"),
        ({"path": "v.sock", "port": 52, "io": "fibers"}, "io must be one of"),
    ],
)
def test_bad_server_arguments_are_value_errors_naming_them(
    kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        HybridVSockServerEndpoint(reactor, **kwargs)  # type: ignore[arg-type]
