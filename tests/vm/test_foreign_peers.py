"""
Foreign peers in the kernel tier: AF_VSOCK implementations that share no code
with ours (Go's github.com/mdlayher/vsock, ncat, socat) talk to both engines
in both roles, through the guest kernel's vsock_loopback (CID 1).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Factory
from twisted.internet.threads import deferToThread

from ..support.foreign import PEERS, ForeignPeer, start_listener
from ..support.hvsock_cli import HVSOCK, vsock_port_of, write_file
from ..support.hvsock_cli import start_listener as start_hvsock
from ..support.streams import Echo, SendAndCollect, digest, factory_for, payload
from ..support.twistd import start_twistd_web, wait_until_serving_vsock
from ..support.vsock import CID_LOCAL, free_vsock_port

pytestmark = [pytest.mark.kernel, pytest.mark.foreign]

MiB = 1024 * 1024
ENGINES = ("reactor", "threads")

peers = pytest.mark.parametrize("peer", PEERS, ids=lambda peer: peer.name)
engines = pytest.mark.parametrize("io", ENGINES)


def rotated_engines(shift: int) -> pytest.MarkDecorator:
    """
    Each peer with one engine, rotating: every ``hvsock cat`` costs a Python
    start (tens of seconds in the guest), so the file tests pair each peer
    with the engine the other role does not, and every peer still meets both
    engines and every engine both roles.
    """
    pairs = []
    for index, peer in enumerate(PEERS):
        io = ENGINES[(index + shift) % 2]
        pairs.append(pytest.param(peer, io, id=f"{peer.name}-{io}"))
    return pytest.mark.parametrize(("peer", "io"), pairs)


@peers
@engines
@pytest_twisted.ensureDeferred
async def test_foreign_client_gets_8_mib_echoed_by_our_server(
    peer: ForeignPeer, io: str
) -> None:
    peer.require()
    data = payload(8 * MiB)
    endpoint = serverFromString(reactor, f"vsock:port=0:io={io}")
    port = await endpoint.listen(Factory.forProtocol(Echo))
    try:
        result = await deferToThread(
            subprocess.run,
            peer.client(port.getHost().port),
            input=data,
            capture_output=True,
            timeout=300,
        )
    finally:
        await port.stopListening()
    assert result.returncode == 0, result.stderr
    assert digest(result.stdout) == digest(data)


@peers
@engines
@pytest_twisted.ensureDeferred
async def test_our_client_sends_8_mib_to_a_foreign_listener(
    peer: ForeignPeer, io: str, tmp_path: Path
) -> None:
    peer.require()
    data = payload(8 * MiB)
    reply = data if peer.echoes else payload(8 * MiB)
    port = free_vsock_port()
    with (
        open(write_file(tmp_path / "reply", reply), "rb") as stdin,
        open(tmp_path / "received", "wb") as stdout,
    ):
        listener = await deferToThread(start_listener, peer, port, stdin, stdout)
    try:
        endpoint = clientFromString(
            reactor, f"vsock:cid={CID_LOCAL}:port={port}:io={io}"
        )
        client = factory_for(lambda: SendAndCollect(data))
        await endpoint.connect(client)
        received = await client.built[0].finished  # type: ignore[attr-defined]
    finally:
        status = await deferToThread(listener.finish)
    assert status == 0, listener.stderr
    assert received == (digest(reply), len(reply))
    if not peer.echoes:
        assert digest((tmp_path / "received").read_bytes()) == digest(data)


@rotated_engines(0)
def test_foreign_client_exchanges_files_with_hvsock_cat_listen(
    peer: ForeignPeer, io: str, tmp_path: Path
) -> None:
    peer.require()
    to_listener = write_file(tmp_path / "a", os.urandom(MiB))
    to_client = write_file(tmp_path / "b", os.urandom(MiB))
    with (
        open(to_client, "rb") as stdin,
        open(tmp_path / "listener.out", "wb") as stdout,
    ):
        cat, address = start_hvsock(
            "cat", "-l", f"vsock:port=0:io={io}", stdin=stdin, stdout=stdout
        )
    with (
        open(to_listener, "rb") as stdin,
        open(tmp_path / "client.out", "wb") as stdout,
    ):
        client = subprocess.run(
            peer.client(vsock_port_of(address)),
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=300,
        )
    assert client.returncode == 0, client.stderr
    assert cat.wait(timeout=120) == 0
    assert (tmp_path / "listener.out").read_bytes() == to_listener.read_bytes()
    assert (tmp_path / "client.out").read_bytes() == to_client.read_bytes()


@rotated_engines(1)
def test_hvsock_cat_exchanges_files_with_a_foreign_listener(
    peer: ForeignPeer, io: str, tmp_path: Path
) -> None:
    peer.require()
    sent = write_file(tmp_path / "sent", os.urandom(MiB))
    reply = sent if peer.echoes else write_file(tmp_path / "reply", os.urandom(MiB))
    port = free_vsock_port()
    with (
        open(reply, "rb") as stdin,
        open(tmp_path / "listener.out", "wb") as stdout,
    ):
        listener = start_listener(peer, port, stdin, stdout)
    try:
        with open(sent, "rb") as stdin, open(tmp_path / "cat.out", "wb") as stdout:
            cat = subprocess.run(
                [*HVSOCK, "cat", f"vsock:cid={CID_LOCAL}:port={port}:io={io}"],
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=300,
            )
    finally:
        status = listener.finish()
    assert cat.returncode == 0, cat.stderr
    assert status == 0, listener.stderr
    assert (tmp_path / "cat.out").read_bytes() == reply.read_bytes()
    if not peer.echoes:
        assert (tmp_path / "listener.out").read_bytes() == sent.read_bytes()


@engines
def test_ncat_fetches_a_page_from_twistd_web(io: str, tmp_path: Path) -> None:
    [ncat] = [peer for peer in PEERS if peer.name == "ncat"]
    ncat.require()
    (tmp_path / "hello.txt").write_bytes(b"served to ncat\n")
    port = free_vsock_port()
    server = start_twistd_web(f"vsock:port={port}:io={io}", tmp_path)
    try:
        wait_until_serving_vsock(server, port)
        # As HTTP clients do, ncat does not half-close here: twisted.web's
        # HTTPChannel is not half-closeable, so Twisted drops the whole
        # connection, unsent response included, when the client half-closes.
        result = subprocess.run(
            [*ncat.client(port), "--no-shutdown"],
            input=b"GET /hello.txt HTTP/1.0\r\nHost: guest\r\n\r\n",
            capture_output=True,
            timeout=300,
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"HTTP/1.0 200"), result.stdout
    assert result.stdout.endswith(b"\r\n\r\nserved to ncat\n")
