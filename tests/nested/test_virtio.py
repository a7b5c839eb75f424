"""
Both engines across a real virtio-vsock transport. Our end runs in the outer
guest, the host (CID 2) to the inner guest (CID 3); the inner guest's end is
the Go peer on mdlayher/vsock, since Python is too slow to start there.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from twisted_hvsock.address import local_cid

from .conftest import InnerGuest, outer
from .peer import payload

pytestmark = pytest.mark.nested

ENGINES = ["reactor", "threads"]
SIZE = 16 * 1024 * 1024
#: A port nobody listens on in either guest.
UNUSED_PORT = 49999


def _listening_port(line: bytes) -> int:
    """The port in the Go peer's "listening on PORT" line."""
    match = re.fullmatch(rb"listening on (\d+)\n", line)
    assert match, line
    return int(match.group(1))


@pytest.mark.parametrize("engine", ENGINES)
def test_inner_guest_connects_to_its_host(inner: InnerGuest, engine: str) -> None:
    """
    The inner guest sends 16 MiB to CID 2 and half-closes; our server echoes
    it back and closes once the data has ended. Both ends see it intact.
    """
    server = outer("serve-echo", engine, 0)
    port = server.next()["ready"]
    data = payload(SIZE)
    client = inner.peer("connect", 2, port)
    client.send(data)
    echoed, status = client.finish()
    try:
        served = server.next()
    finally:
        server.close()
    assert status == 0, echoed[-500:]
    assert hashlib.sha256(echoed).hexdigest() == hashlib.sha256(data).hexdigest()
    assert served["received"] == SIZE
    assert served["sha256"] == hashlib.sha256(data).hexdigest()
    assert served["host"] == f"vsock://2:{port}"
    assert str(served["peer"]).startswith("vsock://3:")


@pytest.mark.parametrize("engine", ENGINES)
def test_host_connects_to_inner_guest(inner: InnerGuest, engine: str) -> None:
    """
    Our client sends 16 MiB to CID 3 and half-closes; the inner guest echoes
    it and half-closes in turn. The echo is intact.
    """
    listener = inner.peer("listen", 0)
    port = _listening_port(listener.readline())
    client = outer("send-echo", engine, 3, port, SIZE)
    try:
        sent = client.next()
    finally:
        client.close()
    _, status = listener.finish()
    assert status == 0
    assert "error" not in sent, sent
    assert sent["received"] == SIZE
    assert sent["sha256"] == sent["sent_sha256"]
    assert sent["peer"] == f"vsock://3:{port}"
    # Over virtio a connected client's getsockname() is the wildcard CID;
    # getHost() reports the CID the kernel chose instead (docs/testing.rst).
    assert str(sent["host"]).startswith("vsock://2:")
    assert sent["local_cid"] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_an_abort_reaches_the_peer_as_an_orderly_end(
    inner: InnerGuest, engine: str
) -> None:
    """
    Our client aborts at once. virtio-vsock has no reset for an open
    connection: the close sends a shutdown of both directions, so the Go
    peer's echo reads an ordinary end of stream, half-closes and exits 0.
    """
    listener = inner.peer("listen", 0)
    port = _listening_port(listener.readline())
    client = outer("abort", engine, 3, port)
    try:
        aborted = client.next()
    finally:
        client.close()
    output, status = listener.finish()
    assert aborted["reason"] == "ConnectionAborted", aborted
    assert (status, output) == (0, b"")


def test_no_listener_in_the_host(inner: InnerGuest) -> None:
    """A connect from the inner guest to CID 2 where nothing listens is refused."""
    attempt = inner.peer("connect", 2, UNUSED_PORT)
    attempt.send(b"")
    output, status = attempt.finish()
    assert status == 1
    assert b"connect: connection reset by peer" in output, output


@pytest.mark.parametrize("engine", ENGINES)
def test_no_listener_in_the_inner_guest(inner: InnerGuest, engine: str) -> None:
    """Our connect to CID 3 where nothing listens is refused."""
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
