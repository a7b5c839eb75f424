"""
hyperkit endpoints on real Unix sockets, against a fake hyperkit that reads
the 18-byte header on ``<dir>/connect`` and relays to a stand-in guest, and
as hyperkit connecting to ``<dir>/00000002.<port>``; on both I/O engines.
"""

from __future__ import annotations

import os
import socket
import stat

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock.hyperkit import (
    HyperkitClientEndpoint,
    HyperkitServerEndpoint,
    listen_socket_path,
)

from .support.fake_vmms import FakeHyperkit
from .support.streams import SendAndCollect, digest, factory_for, payload
from .support.unix import (
    Collect,
    MiB,
    echo_repeatedly_as_vmm,
    exchange_as_vmm,
    listen_as_guest,
)

PORT = 0x5653


def start_hyperkit(
    sockdir: str, guests: dict[tuple[int, int], Factory]
) -> tuple[FakeHyperkit, list[object]]:
    fake = FakeHyperkit(sockdir)
    ports: list[object] = []
    for (cid, port), factory in guests.items():
        path = os.path.join(sockdir, f"guest{cid}.{port}")
        ports.append(listen_as_guest(path, factory))
        fake.guests[cid, port] = path
    fake.start()
    return fake, ports


async def stop_hyperkit(fake: FakeHyperkit, ports: list[object]) -> None:
    await fake.stop()
    for port in ports:
        await port.stopListening()  # type: ignore[attr-defined]


@pytest.mark.parametrize("cid", [3, 0x1234ABCD])
@pytest_twisted.ensureDeferred
async def test_16_mib_each_way_arrive_intact_host_to_guest(
    sockdir: str, io: str, cid: int
) -> None:
    to_guest, to_host = payload(16 * MiB), payload(16 * MiB)
    guest = factory_for(lambda: SendAndCollect(to_host))
    fake, ports = start_hyperkit(sockdir, {(cid, PORT): guest})
    try:
        client = await HyperkitClientEndpoint(
            reactor, sockdir, PORT, cid=cid, io=io
        ).connect(factory_for(lambda: SendAndCollect(to_guest)))
        host_got = await client.finished
        guest_got = await guest.built[0].finished  # type: ignore[attr-defined]
    finally:
        await stop_hyperkit(fake, ports)
    assert fake.headers == [f"{cid:08x}.00005653\n".encode()]
    assert host_got == (digest(to_host), len(to_host))
    assert guest_got == (digest(to_guest), len(to_guest))


@pytest_twisted.ensureDeferred
async def test_a_guest_port_nobody_listens_on_shows_up_as_the_end_of_the_data(
    sockdir: str, io: str
) -> None:
    fake, ports = start_hyperkit(sockdir, {})
    try:
        client = await HyperkitClientEndpoint(reactor, sockdir, 80, io=io).connect(
            Factory.forProtocol(Collect)
        )
        await client.lost
    finally:
        await stop_hyperkit(fake, ports)
    assert fake.headers == [b"00000003.00000050\n"]
    assert client.events == ["made", "lost"]
    assert client.reason.check(error.ConnectionDone)


@pytest_twisted.ensureDeferred
async def test_no_hyperkit_is_a_connect_error_naming_the_connect_socket(
    sockdir: str, io: str
) -> None:
    # The user gave the directory: the error says which file in it was tried.
    with pytest.raises(error.ConnectError) as raised:
        await HyperkitClientEndpoint(reactor, sockdir, 80, io=io).connect(
            Factory.forProtocol(Protocol)
        )
    connect = os.path.join(sockdir, "connect")
    assert f"hyperkit's socket {connect!r}: No such file" in str(raised.value)


@pytest_twisted.ensureDeferred
async def test_16_mib_each_way_arrive_intact_guest_to_host(
    sockdir: str, io: str
) -> None:
    path = os.path.join(sockdir, "00000002.00005653")
    await exchange_as_vmm(
        HyperkitServerEndpoint(reactor, sockdir, PORT, io=io),
        path,
        16 * MiB,
        lambda: assert_mode(path, 0o600),
    )


def assert_mode(path: str, mode: int) -> None:
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


@pytest_twisted.ensureDeferred
async def test_listener_accepts_repeated_connections(sockdir: str, io: str) -> None:
    await echo_repeatedly_as_vmm(
        HyperkitServerEndpoint(reactor, sockdir, 22, io=io),
        listen_socket_path(sockdir, 22),
    )


@pytest_twisted.ensureDeferred
async def test_a_stale_socket_is_replaced_but_a_regular_file_is_not(
    sockdir: str, io: str
) -> None:
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(listen_socket_path(sockdir, 1))
    port = await HyperkitServerEndpoint(reactor, sockdir, 1, mode=0o640, io=io).listen(
        Factory.forProtocol(Protocol)
    )
    try:
        mode = os.stat(listen_socket_path(sockdir, 1)).st_mode
        assert stat.S_IMODE(mode) == 0o640
    finally:
        await port.stopListening()
    with open(listen_socket_path(sockdir, 2), "w") as precious:
        precious.write("keep me")
    with pytest.raises(error.CannotListenError, match="is not a socket"):
        await HyperkitServerEndpoint(reactor, sockdir, 2, io=io).listen(
            Factory.forProtocol(Protocol)
        )
    with open(listen_socket_path(sockdir, 2)) as precious:
        assert precious.read() == "keep me"


def test_socket_paths_are_hyperkit_s() -> None:
    assert listen_socket_path("/d", 0x5653) == "/d/00000002.00005653"
    assert HyperkitClientEndpoint(reactor, "d", 1)._socket.path == "d/connect"


def test_a_directory_too_long_for_a_socket_path_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="path .* 118 bytes long.* relative path"):
        HyperkitClientEndpoint(reactor, "/" + "d" * 109, 80)
    # The listening name adds 18 bytes to the directory.
    HyperkitClientEndpoint(reactor, "/" + "d" * 85, 80)
    with pytest.raises(ValueError, match="path"):
        HyperkitServerEndpoint(reactor, "/" + "d" * 90, 80)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"path": "", "port": 80}, "path must be"),
        ({"path": "d", "port": 2**32}, "port must be"),
        ({"path": "d", "port": 80, "cid": 2**32 - 1}, "cid must be"),
        ({"path": "d", "port": 80, "timeout": 0}, "timeout must be"),
        ({"path": "d", "port": 80, "io": "fibers"}, "io must be one of"),
    ],
)
def test_bad_client_arguments_are_value_errors_naming_them(
    kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        HyperkitClientEndpoint(reactor, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"path": "d", "port": 0}, "port must be given"),
        ({"path": "d", "port": 80, "mode": -1}, "mode must be"),
        ({"path": "d", "port": 80, "backlog": 0}, "backlog must be"),
    ],
)
def test_bad_server_arguments_are_value_errors_naming_them(
    kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        HyperkitServerEndpoint(reactor, **kwargs)  # type: ignore[arg-type]
