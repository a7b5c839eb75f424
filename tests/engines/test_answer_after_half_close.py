"""
A protocol that is not half-closeable (``twisted.web``'s ``HTTPChannel``)
answers a request whose sender half-closed right after it, on the thread
engine: the peer's end of data reaches it only once its answer has gone
to the kernel, not in the same reactor turn as the request, which dropped
the answer still queued for the writer thread.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

from twisted_hvsock.address import CID_LOCAL
from twisted_hvsock.threaded_unix import ThreadedUNIXServerEndpoint
from twisted_hvsock.vsock import VSockServerEndpoint

from ..support.leaks import busy_threads, counts_settle, open_fds

SMALL = b"<p>hello</p>\n"
LARGE = bytes(range(256)) * 4096  # 1 MiB


def _site() -> Site:
    root = Resource()
    root.putChild(b"small", Data(SMALL, "text/html"))
    root.putChild(b"large", Data(LARGE, "application/octet-stream"))
    return Site(root)


def _ask_then_half_close(family: int, address: Any, request: bytes) -> bytes:
    """
    A blocking client, as ``printf ... | nc`` is: the request and the
    half-close go out back to back, then everything that comes back.
    """
    with socket.socket(family, socket.SOCK_STREAM) as skt:
        skt.settimeout(30)
        skt.connect(address)
        skt.sendall(request)
        skt.shutdown(socket.SHUT_WR)
        received = []
        while data := skt.recv(65536):
            received.append(data)
    return b"".join(received)


def _on_a_thread(call: Callable[..., bytes], *args: Any) -> Deferred[bytes]:
    """Run a blocking call on a thread of its own, which ends with it."""
    done: Deferred[bytes] = Deferred()

    def run() -> None:
        try:
            result = call(*args)
        except BaseException:
            reactor.callFromThread(done.errback, Failure())
        else:
            reactor.callFromThread(done.callback, result)

    threading.Thread(target=run).start()
    return done


def _unix() -> tuple[Any, Any]:
    name = b"\0hvsock-test-" + uuid.uuid4().hex.encode()
    return (
        ThreadedUNIXServerEndpoint(reactor, name),
        lambda port: (socket.AF_UNIX, port.getHost().name),
    )


def _vsock() -> tuple[Any, Any]:
    return (
        VSockServerEndpoint(reactor, 0, io="threads"),
        lambda port: (socket.AF_VSOCK, (CID_LOCAL, port.getHost().port)),
    )


@pytest.mark.parametrize(
    "endpoints",
    [
        pytest.param(_unix, id="unix"),
        pytest.param(_vsock, id="vsock", marks=pytest.mark.kernel),
    ],
)
@pytest.mark.parametrize("page", [b"small", b"large"])
@pytest_twisted.ensureDeferred
async def test_web_answers_a_request_sent_with_a_half_close(
    endpoints: Any, page: bytes
) -> None:
    threads, fds = busy_threads(), open_fds()
    server, address_of = endpoints()
    port = await server.listen(_site())
    # HTTP/1.1: the server keeps the connection open after its answer.
    request = b"GET /" + page + b" HTTP/1.1\r\nHost: test\r\n\r\n"
    try:
        for _ in range(3):
            answer = await _on_a_thread(
                _ask_then_half_close, *address_of(port), request
            )
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), answer[:200]
            assert body == (SMALL if page == b"small" else LARGE)
    finally:
        await port.stopListening()
    await counts_settle(threads, fds)
    assert busy_threads() == threads
    assert open_fds() == fds
