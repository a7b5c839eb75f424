"""
HTTP over vsock: how the agent's endpoint factory reads URLs, on the host;
treq against Twisted web servers (plain, TLS, twistd) over vsock, in the
guest.
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import error, reactor, ssl
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web.client import URI, ResponseNeverReceived
from twisted.web.error import SchemeNotSupported
from twisted.web.iweb import IAgentEndpointFactory, IPolicyForHTTPS
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_hvsock._engines.reactor import VSockClient
from twisted_hvsock.vsock import VSockClientEndpoint
from twisted_hvsock.web import VSockAgentEndpointFactory, vsock_agent

from .support.tls import self_signed
from .support.twistd import start_twistd_web

MiB = 1024 * 1024


@implementer(IPolicyForHTTPS)
class RecordingPolicy:
    """
    Remembers which netlocs it was asked for, and expects every server to
    be ``hostname`` with a certificate signed by ``cert`` (if given).
    """

    def __init__(
        self, cert: ssl.Certificate | None = None, hostname: str = "guest.example"
    ) -> None:
        self.cert = cert
        self.hostname = hostname
        self.asked: list[tuple[bytes, int]] = []

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        self.asked.append((hostname, port))
        return ssl.optionsForClientTLS(self.hostname, trustRoot=self.cert)


def endpoint_for(url: bytes, **kwargs: Any) -> Any:
    factory = VSockAgentEndpointFactory(MemoryReactorClock(), **kwargs)
    return factory.endpointForURI(URI.fromBytes(url))


def failure_of(deferred: Any) -> Any:
    failures: list[Any] = []
    deferred.addErrback(failures.append)
    [reason] = failures
    return reason


# Host tier: endpoints are built, never connected.


def test_the_factory_provides_iagentendpointfactory() -> None:
    factory = VSockAgentEndpointFactory(MemoryReactorClock())
    assert verifyObject(IAgentEndpointFactory, factory)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        (b"http+vsock://3:8080/", "vsock://3:8080"),
        (b"http+vsock://2:80/a/b?c=d#e", "vsock://2:80"),
        (b"http+vsock://host:8080", "vsock://2:8080"),
        (b"http+vsock://LOCAL:5000/", "vsock://1:5000"),
        (b"http+vsock://hypervisor:1/", "vsock://0:1"),
        (b"http+vsock://4294967294:4294967294/", "vsock://4294967294:4294967294"),
    ],
)
def test_http_vsock_urls_become_vsock_endpoints(url: bytes, address: str) -> None:
    endpoint = endpoint_for(url)
    assert isinstance(endpoint, VSockClientEndpoint)
    assert repr(endpoint) == f"<VSockClientEndpoint {address}>"


def test_https_vsock_wraps_the_vsock_endpoint_in_the_policys_tls() -> None:
    policy = RecordingPolicy()
    endpoint = endpoint_for(b"https+vsock://host:8443/x", tls_policy=policy)
    # The host as written in the URL, not the CID it names.
    assert policy.asked == [(b"host", 8443)]
    # wrapClientTLS returns a private wrapper; its inner endpoint is the
    # only way to see what it wraps without connecting.
    assert repr(endpoint._wrappedEndpoint) == "<VSockClientEndpoint vsock://2:8443>"


def test_http_urls_get_twisted_s_standard_tcp_endpoint() -> None:
    policy = RecordingPolicy()
    endpoint = endpoint_for(b"http://example.com/", tls_policy=policy)
    assert repr(endpoint) == "<HostnameEndpoint example.com:80>"
    assert policy.asked == []


def test_https_urls_get_tls_over_tcp_from_the_policy() -> None:
    policy = RecordingPolicy()
    endpoint = endpoint_for(b"https://example.com/", tls_policy=policy)
    assert policy.asked == [(b"example.com", 443)]
    assert repr(endpoint._wrappedEndpoint) == "<HostnameEndpoint example.com:443>"


@pytest.mark.parametrize(
    "url", [b"ftp://example.com/", b"vsock://3:80", b"ws+vsock://3:80/", b"file:///x"]
)
def test_other_schemes_are_not_supported(url: bytes) -> None:
    with pytest.raises(SchemeNotSupported, match="supports http, https, http\\+vsock"):
        endpoint_for(url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (b"http+vsock://3/x", "the port is missing"),
        (b"https+vsock://host/", "the port is missing"),
        (
            b"http+vsock://3:/",
            "port must be a whole number from 0 to 4294967294, got ''",
        ),
        (
            b"http+vsock://3:http/",
            "port must be a whole number from 0 to 4294967294, got 'http'",
        ),
        (
            b"http+vsock://3:4294967295/",
            "port must be a whole number from 0 to 4294967294",
        ),
        (
            b"http+vsock://guest:80/",
            "cid must be a whole number from 0 to 4294967294 or one of",
        ),
        (
            b"http+vsock://:80/",
            "cid must be a whole number from 0 to 4294967294 or one of",
        ),
        (b"http+vsock://any:80/", "only for listening"),
    ],
)
def test_bad_vsock_urls_raise_value_error_quoting_url_and_form(
    url: bytes, words: str
) -> None:
    with pytest.raises(ValueError) as raised:
        endpoint_for(url)
    message = str(raised.value)
    scheme = url.split(b":")[0].decode()
    assert f"bad {scheme} URL {url.decode()!r}" in message
    assert words in message
    assert message.endswith(f"expected {scheme}://<cid>:<port>/<path>")


def test_bad_agent_arguments_are_refused_at_once() -> None:
    with pytest.raises(ValueError, match="^timeout must be"):
        vsock_agent(MemoryReactorClock(), connect_timeout=0)
    with pytest.raises(TypeError, match="must provide IPolicyForHTTPS"):
        vsock_agent(MemoryReactorClock(), tls_policy=object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected", "words"),
    [
        (b"http+vsock://3/index.html", ValueError, "the port is missing"),
        (b"http+vsock://guest:80/", ValueError, "cid must be"),
        (b"gopher://3:70/", SchemeNotSupported, "unsupported URL scheme 'gopher'"),
        (b"http+vsock://3:80/\x00", ValueError, "Invalid URI"),
    ],
)
def test_agent_request_fails_its_deferred_for_a_bad_url(
    url: bytes, expected: type[Exception], words: str
) -> None:
    agent = vsock_agent(MemoryReactorClock())
    reason = failure_of(agent.request(b"GET", url))
    assert reason.check(expected)
    assert words in str(reason.value)


def test_treq_reports_a_bad_vsock_url_through_its_deferred() -> None:
    clock = MemoryReactorClock()
    reason = failure_of(
        treq.get("http+vsock://host/", agent=vsock_agent(clock), reactor=clock)
    )
    assert reason.check(ValueError)
    assert "'http+vsock://host/'" in str(reason.value)


# Kernel tier: real AF_VSOCK sockets over CID 1 inside the guest.

kernel = pytest.mark.kernel

PAGE = b"hello over vsock\n"


class Page(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return PAGE


class HostHeader(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        return request.getHeader(b"host") or b""


class BodyDigest(Resource):
    isLeaf = True

    def render_POST(self, request: Request) -> bytes:
        body = request.content.read()  # type: ignore[union-attr]
        return f"{hashlib.sha256(body).hexdigest()} {len(body)}".encode()


def site() -> Site:
    root = Resource()
    root.putChild(b"hello", Page())
    root.putChild(b"host", HostHeader())
    root.putChild(b"digest", BodyDigest())
    return Site(root)


async def serve(factory: Any) -> Any:
    return await serverFromString(reactor, "vsock:port=0").listen(factory)


@kernel
@pytest_twisted.ensureDeferred
async def test_treq_fetches_a_page_and_sends_the_url_s_host() -> None:
    port = await serve(site())
    number = port.getHost().port
    agent = vsock_agent(reactor)
    try:
        page = await treq.get(f"http+vsock://local:{number}/hello", agent=agent)
        body = await page.content()
        host = await treq.get(f"http+vsock://1:{number}/host", agent=agent)
        host_header = await host.content()
    finally:
        await port.stopListening()
    assert page.code == 200
    assert body == PAGE
    assert host_header == f"1:{number}".encode()


@kernel
@pytest_twisted.ensureDeferred
async def test_a_4_mib_post_body_arrives_intact() -> None:
    data = hashlib.shake_256(b"vsock").digest(4 * MiB)
    port = await serve(site())
    try:
        response = await treq.post(
            f"http+vsock://1:{port.getHost().port}/digest",
            data=data,
            agent=vsock_agent(reactor),
        )
        answer = await response.text()
    finally:
        await port.stopListening()
    assert answer == f"{hashlib.sha256(data).hexdigest()} {len(data)}"


async def serve_tls(server_cert: ssl.PrivateCertificate) -> Any:
    return await serve(TLSMemoryBIOFactory(server_cert.options(), False, site()))


@kernel
@pytest_twisted.ensureDeferred
async def test_https_vsock_speaks_tls_set_up_by_the_callers_policy() -> None:
    server_cert, trust_root = self_signed("guest.example")
    port = await serve_tls(server_cert)
    number = port.getHost().port
    policy = RecordingPolicy(trust_root)
    try:
        response = await treq.get(
            f"https+vsock://local:{number}/hello",
            agent=vsock_agent(reactor, tls_policy=policy),
        )
        body = await response.content()
    finally:
        await port.stopListening()
    assert body == PAGE
    assert policy.asked == [(b"local", number)]


@kernel
@pytest.mark.parametrize(
    ("policy_for", "words"),
    [
        # Another certificate for the same name, as an impostor would have.
        (
            lambda root: RecordingPolicy(self_signed("guest.example")[1]),
            "certificate verify failed",
        ),
        (lambda root: RecordingPolicy(root, "other.example"), "other.example"),
        # The default policy: system roots, and the URL's host as the name.
        (lambda root: None, "hostname=b'local'"),
    ],
    ids=["untrusted-certificate", "other-name", "default-policy"],
)
@pytest_twisted.ensureDeferred
async def test_https_vsock_refuses_a_server_the_policy_does_not_accept(
    policy_for: Any, words: str
) -> None:
    server_cert, trust_root = self_signed("guest.example")
    port = await serve_tls(server_cert)
    agent = vsock_agent(reactor, tls_policy=policy_for(trust_root))
    try:
        with pytest.raises(ResponseNeverReceived) as refused:
            await treq.get(
                f"https+vsock://local:{port.getHost().port}/hello",
                agent=agent,
                timeout=60,
            )
    finally:
        await port.stopListening()
    assert words in str(refused.value.reasons[0].value)


@kernel
@pytest_twisted.ensureDeferred
async def test_nothing_listening_fails_the_request_with_connection_refused() -> None:
    port = await serve(site())
    number = port.getHost().port
    await port.stopListening()
    with pytest.raises(error.ConnectionRefusedError, match="nothing listens"):
        await treq.get(f"http+vsock://local:{number}/", agent=vsock_agent(reactor))


@kernel
@pytest_twisted.ensureDeferred
async def test_connect_timeout_bounds_a_vsock_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The loopback transport answers at once, so stall the attempt itself.
    monkeypatch.setattr(VSockClient, "doConnect", lambda self: None)
    agent = vsock_agent(reactor, connect_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(error.TimeoutError):
        await treq.get("http+vsock://local:5000/", agent=agent)
    assert time.monotonic() - started >= 0.5


def free_vsock_port() -> int:
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as skt:
        skt.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        port: int = skt.getsockname()[1]
        return port


@kernel
@pytest_twisted.ensureDeferred
async def test_treq_fetches_a_file_from_twistd_web(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(PAGE)
    port = free_vsock_port()
    server = start_twistd_web(f"vsock:port={port}", tmp_path)
    agent = vsock_agent(reactor)
    # twistd takes tens of seconds to start in the emulated guest.
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                response = await treq.get(
                    f"http+vsock://local:{port}/hello.txt", agent=agent
                )
                break
            except error.ConnectionRefusedError:
                assert server.poll() is None, "twistd exited before serving"
                if time.monotonic() > deadline:
                    raise
                await deferLater(reactor, 0.1, lambda: None)
        body = await response.content()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert response.code == 200
    assert body == PAGE
