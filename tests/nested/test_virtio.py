"""
Both engines across a real virtio-vsock transport: the inner guest (CID 3)
and the outer guest, its host (CID 2), each end in its own guest.
"""

from __future__ import annotations

import pytest

from twisted_hvsock.address import local_cid

from .conftest import InnerGuest, Lines, outer

pytestmark = pytest.mark.nested

ENGINES = ["reactor", "threads"]
SIZE = 16 * 1024 * 1024
#: A port nobody listens on in either guest.
UNUSED_PORT = 49999


def _echoed(
    client: Lines, server: Lines
) -> tuple[dict[str, object], dict[str, object]]:
    try:
        sent, served = client.next(), server.next()
    finally:
        client.close()
        server.close()
    assert "error" not in sent, sent
    assert sent["received"] == SIZE
    assert sent["sha256"] == sent["sent_sha256"]
    assert served["received"] == SIZE
    assert served["sha256"] == sent["sent_sha256"]
    return sent, served


@pytest.mark.parametrize("engine", ENGINES)
def test_inner_guest_connects_to_its_host(inner: InnerGuest, engine: str) -> None:
    """16 MiB from the inner guest to CID 2 and back, half-closed, intact."""
    server = outer("serve-echo", engine, 0)
    port = server.next()["ready"]
    client = inner.start("send-echo", engine, 2, port, SIZE)
    sent, served = _echoed(client, server)
    assert sent["peer"] == f"vsock://2:{port}"
    assert str(sent["host"]).startswith("vsock://3:")
    assert sent["local_cid"] == 3
    assert str(served["peer"]).startswith("vsock://3:")
    assert served["host"] == f"vsock://2:{port}"


@pytest.mark.parametrize("engine", ENGINES)
def test_host_connects_to_inner_guest(inner: InnerGuest, engine: str) -> None:
    """16 MiB from the outer guest to CID 3 and back, half-closed, intact."""
    server = inner.start("serve-echo", engine, 0)
    port = server.next()["ready"]
    client = outer("send-echo", engine, 3, port, SIZE)
    sent, served = _echoed(client, server)
    assert sent["peer"] == f"vsock://3:{port}"
    assert str(sent["host"]).startswith("vsock://2:")
    assert served["host"] == f"vsock://3:{port}"
    assert str(served["peer"]).startswith("vsock://2:")


@pytest.mark.parametrize("engine", ENGINES)
def test_no_listener_in_the_host(inner: InnerGuest, engine: str) -> None:
    """A connect to CID 2 where nothing listens is refused."""
    attempt = inner.start("try-connect", engine, 2, UNUSED_PORT)
    try:
        report = attempt.next()
    finally:
        attempt.close()
    assert report["error"] == "ConnectionRefusedError", report


@pytest.mark.parametrize("engine", ENGINES)
def test_no_listener_in_the_inner_guest(inner: InnerGuest, engine: str) -> None:
    """A connect to CID 3 where nothing listens is refused."""
    attempt = outer("try-connect", engine, 3, UNUSED_PORT)
    try:
        report = attempt.next()
    finally:
        attempt.close()
    assert report["error"] == "ConnectionRefusedError", report


def test_local_cid_of_the_host(inner: InnerGuest) -> None:
    """
    The outer guest has only host-side transports (vhost and loopback): the
    driver reports the host's CID for it.
    """
    assert local_cid() == 2
