"""
Inside a Linux guest, ``hvsock:`` strings and ``hvsock://`` URIs reach
AF_VSOCK: loopback is CID 1 and the template service of port P is port P.
Kernel tier: real AF_VSOCK in the guest VM.
"""

from __future__ import annotations

import subprocess

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Factory

from twisted_hvsock.address import VSockAddress
from twisted_hvsock.hyperv_ids import service_id_for_port
from twisted_hvsock.uri import client_endpoint, server_endpoint

from .support.hvsock_cli import hvsock, start_listener, vsock_port_of
from .support.streams import Echo, SendAndCollect, digest, factory_for, payload

pytestmark = pytest.mark.kernel

MiB = 1024 * 1024


@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_an_hvsock_client_of_loopback_reaches_a_vsock_listener(io: str) -> None:
    data = payload(4 * MiB)
    port = await serverFromString(reactor, "vsock:port=0").listen(
        Factory.forProtocol(Echo)
    )
    try:
        vsock_port = port.getHost().port
        service = service_id_for_port(vsock_port)
        protocol = await clientFromString(
            reactor, f"hvsock:vm=loopback:service={service}:io={io}"
        ).connect(factory_for(lambda: SendAndCollect(data)))
        assert protocol.transport.getPeer() == VSockAddress(1, vsock_port)
        assert await protocol.finished == (digest(data), len(data))
    finally:
        await port.stopListening()


@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_an_hvsock_server_is_reached_by_a_vsock_client(io: str) -> None:
    data = payload(4 * MiB)
    port = await serverFromString(reactor, f"hvsock:service=0:io={io}").listen(
        Factory.forProtocol(Echo)
    )
    try:
        vsock_port = port.getHost().port
        protocol = await clientFromString(
            reactor, f"vsock:cid=1:port={vsock_port}"
        ).connect(factory_for(lambda: SendAndCollect(data)))
        assert await protocol.finished == (digest(data), len(data))
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_hvsock_uris_serve_both_sides() -> None:
    data = payload(1 * MiB)
    port = await server_endpoint(reactor, "hvsock://wildcard/0").listen(
        Factory.forProtocol(Echo)
    )
    try:
        vsock_port = port.getHost().port
        protocol = await client_endpoint(
            reactor, f"hvsock://loopback/{vsock_port}"
        ).connect(factory_for(lambda: SendAndCollect(data)))
        assert await protocol.finished == (digest(data), len(data))
    finally:
        await port.stopListening()


def test_hvsock_cat_talks_over_hvsock_uris() -> None:
    listener, address = start_listener(
        "cat", "-l", "hvsock:service=0", stdout=subprocess.PIPE
    )
    port = vsock_port_of(address)
    sent = hvsock("cat", f"hvsock://loopback/{port}", input=b"over hvsock\n")
    assert sent.returncode == 0, sent.stderr
    out, err = listener.communicate(timeout=120)
    assert out == b"over hvsock\n", err
