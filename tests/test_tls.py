"""
TLS from the endpoint string: the options, real handshakes over Unix
sockets on the host, and over AF_VSOCK in the guest on both engines.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    UNIXClientEndpoint,
    UNIXServerEndpoint,
    clientFromString,
    serverFromString,
    wrapClientTLS,
)
from twisted.internet.interfaces import IStreamClientEndpoint, IStreamServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure
from twisted.web.iweb import IPolicyForHTTPS
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data
from zope.interface import implementer

from twisted_hvsock.tls import (
    TLSServerEndpoint,
    client_tls_options,
    load_certificates,
    server_tls_options,
)
from twisted_hvsock.vsock import VSockClientEndpoint
from twisted_hvsock.web import vsock_agent

from .support.streams import digest, payload
from .support.tls import write_self_signed
from .support.unix import short_directory
from .support.vsock import free_vsock_port


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """
    PEM files: ``<who>.pem`` a key with its certificate, ``<who>-ca.pem``
    the certificate alone (each is self-signed, so it is its own root).
    """
    directory = tmp_path_factory.mktemp("pems")
    files = {}
    for who, hostname in [
        ("server", "web.example"),
        ("client", "client.example"),
        ("other", "web.example"),
    ]:
        files[who], files[f"{who}-ca"] = write_self_signed(directory, who, hostname)
    (directory / "roots").mkdir()
    (directory / "roots" / "a.pem").write_bytes(Path(files["server-ca"]).read_bytes())
    (directory / "roots" / "b.pem").write_bytes(Path(files["client-ca"]).read_bytes())
    files["roots"] = str(directory / "roots")
    (directory / "empty.pem").write_text("no certificate here\n")
    files["empty"] = str(directory / "empty.pem")
    return files


def test_trust_roots_come_from_a_file_or_a_directory(pems: dict[str, str]) -> None:
    assert len(load_certificates(pems["server-ca"], "trustRoots")) == 1
    assert len(load_certificates(pems["roots"], "trustRoots")) == 2
    with pytest.raises(ValueError, match="^trustRoots: no PEM certificate in"):
        load_certificates(pems["empty"], "trustRoots")
    with pytest.raises(ValueError, match="^trustRoots: cannot read"):
        load_certificates(pems["empty"] + ".missing", "trustRoots")


def test_tls_strings_build_tls_endpoints(pems: dict[str, str]) -> None:
    server = serverFromString(MemoryReactor(), f"vsock:443:privateKey={pems['server']}")
    assert isinstance(server, TLSServerEndpoint)
    client = clientFromString(
        MemoryReactor(),
        f"vsock:3:443:tls=yes:hostname=web.example:trustRoots={pems['server-ca']}",
    )
    assert not isinstance(client, VSockClientEndpoint)
    assert isinstance(
        clientFromString(MemoryReactor(), "vsock:3:443:tls=no"), VSockClientEndpoint
    )


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:3:443:tls=yes", "^hostname is required with tls=yes"),
        ("vsock:3:443:tls=maybe", "^tls must be true or false"),
        ("vsock:3:443:hostname=web.example", "^hostname: only with tls=yes"),
        ("vsock:3:443:trustRoots=ca.pem", "^trustRoots: only with tls=yes"),
        (
            "vsock:3:443:tls=yes:hostname=a:privateKey=k.pem",
            "^privateKey: a client key goes with certificate=",
        ),
        ("vsock:3:443:tls=yes:hostname=a:trustRoots=/nope", "^trustRoots: cannot"),
    ],
)
def test_bad_client_tls_strings_name_the_option(description: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clientFromString(MemoryReactor(), description)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:443:certKey=c.pem", "^certKey: TLS needs privateKey=<PEM file> too"),
        ("vsock:443:trustRoots=c.pem", "^trustRoots: TLS needs privateKey"),
        ("vsock:443:privateKey=/nope.pem", "^privateKey: cannot read '/nope.pem'"),
    ],
)
def test_bad_server_tls_strings_name_the_option(description: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        serverFromString(MemoryReactor(), description)


def test_a_missing_tls_extra_is_named_with_how_to_install_it(
    pems: dict[str, str],
) -> None:
    # As after the README's plain `pip install .`: TLS strings name the extra.
    module = "OpenSSL"
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules[{module!r}] = None
        from twisted.internet.endpoints import serverFromString
        from twisted.internet.testing import MemoryReactor
        try:
            serverFromString(MemoryReactor(), "vsock:443:privateKey={pems["server"]}")
        except ImportError as e:
            print(type(e).__name__, e, sep=": ")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        f"MissingDependencyError: TLS needs the {module} module, which is not "
        "installed: pip install 'twisted-hvsock[tls]'"
    )


def test_a_file_without_a_key_is_refused(pems: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="^privateKey: .* must hold a PEM private"):
        server_tls_options(pems["server-ca"])


class Exchange(Protocol):
    """
    The client: sends ``outgoing``, collects until the connection ends;
    ``finished`` fires with the digest and count of what arrived and the
    reason the connection ended.
    """

    def __init__(self, outgoing: bytes) -> None:
        self.outgoing = outgoing
        self.received = hashlib.sha256()
        self.count = 0
        self.finished: Deferred[tuple[str, int, Failure]] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.outgoing)

    def dataReceived(self, data: bytes) -> None:
        self.received.update(data)
        self.count += len(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None
        self.finished.callback((self.received.hexdigest(), self.count, reason))


class ReplyOnceReceived(Protocol):
    """
    The server: once ``expected`` bytes arrived, records their digest on
    its factory, sends ``reply`` and closes.
    """

    def __init__(self, factory: Any, expected: int, reply: bytes) -> None:
        self.factory = factory
        self.expected = expected
        self.reply = reply
        self.received = hashlib.sha256()
        self.count = 0

    def dataReceived(self, data: bytes) -> None:
        self.received.update(data)
        self.count += len(data)
        if self.count == self.expected:
            self.factory.digests.append(self.received.hexdigest())
            assert self.transport is not None
            self.transport.write(self.reply)
            self.transport.loseConnection()


def replying(expected: int, reply: bytes) -> Factory:
    factory = Factory()
    factory.digests = []  # type: ignore[attr-defined]
    factory.buildProtocol = lambda addr: ReplyOnceReceived(  # type: ignore[method-assign]
        factory, expected, reply
    )
    return factory


async def exchange(
    server: IStreamServerEndpoint,
    client: IStreamClientEndpoint,
    size: int = 4,
) -> tuple[bool, Failure]:
    """
    Send ``size`` bytes each way through TLS; whether both arrived intact,
    and why the client's connection ended.
    """
    outgoing, reply = payload(size), payload(size)
    factory = replying(size, reply)
    port = await server.listen(factory)
    try:
        protocol = Exchange(outgoing)
        await client.connect(Factory.forProtocol(lambda: protocol))
        arrived, count, reason = await protocol.finished
    finally:
        await port.stopListening()
    intact = factory.digests == [digest(outgoing)] and (arrived, count) == (  # type: ignore[attr-defined]
        digest(reply),
        size,
    )
    return intact, reason


async def over_unix(server_options: Any, client_options: Any) -> tuple[bool, Failure]:
    for directory in short_directory():
        path = f"{directory}/s"
        return await exchange(
            TLSServerEndpoint(UNIXServerEndpoint(reactor, path), server_options),
            wrapClientTLS(client_options, UNIXClientEndpoint(reactor, path)),
        )
    raise AssertionError("unreachable")


@pytest_twisted.ensureDeferred
async def test_a_handshake_verifies_the_hostname(pems: dict[str, str]) -> None:
    intact, _ = await over_unix(
        server_tls_options(pems["server"]),
        client_tls_options("web.example", trustRoots=pems["server-ca"]),
    )
    assert intact


@pytest.mark.parametrize(
    ("hostname", "roots"),
    [
        ("wrong.example", "server-ca"),  # the certificate names another host
        ("web.example", "other-ca"),  # signed by a root not trusted
    ],
)
@pytest_twisted.ensureDeferred
async def test_a_certificate_that_does_not_verify_is_refused(
    pems: dict[str, str], hostname: str, roots: str
) -> None:
    intact, reason = await over_unix(
        server_tls_options(pems["server"]),
        client_tls_options(hostname, trustRoots=pems[roots]),
    )
    assert not intact
    assert "ConnectionDone" not in str(reason.type)


@pytest.mark.parametrize(
    ("certificate", "served"),
    [("client", True), (None, False), ("other", False)],
)
@pytest_twisted.ensureDeferred
async def test_a_client_certificate_is_required_and_checked(
    pems: dict[str, str], certificate: str | None, served: bool
) -> None:
    intact, _ = await over_unix(
        server_tls_options(pems["server"], trustRoots=pems["client-ca"]),
        client_tls_options(
            "web.example",
            trustRoots=pems["server-ca"],
            certificate=None if certificate is None else pems[certificate],
        ),
    )
    assert intact is served


@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_a_hyperkit_string_serves_tls(pems: dict[str, str], io: str) -> None:
    # The Unix-socket backends take the same words: the "guest" connects to
    # the socket file hyperkit would connect to for guest port 80.
    for directory in short_directory():
        server = serverFromString(
            reactor,
            f"hyperkit:path={directory}:port=80:io={io}:privateKey={pems['server']}",
        )
        options = client_tls_options("web.example", trustRoots=pems["server-ca"])
        client = wrapClientTLS(
            options, UNIXClientEndpoint(reactor, f"{directory}/00000002.00000050")
        )
        intact, _ = await exchange(server, client)
        assert intact


def test_unix_backend_client_strings_take_tls(pems: dict[str, str]) -> None:
    for prefix in ["hyperkit:path=/tmp/vm", "hybridvsock:path=/tmp/v.sock"]:
        plain = clientFromString(MemoryReactor(), f"{prefix}:port=80")
        tls = clientFromString(
            MemoryReactor(), f"{prefix}:port=80:tls=yes:hostname=web.example"
        )
        assert type(tls) is not type(plain)
        with pytest.raises(ValueError, match="^hostname is required"):
            clientFromString(MemoryReactor(), f"{prefix}:port=80:tls=yes")


# Kernel tier: the same through vsock: strings over CID 1 inside the guest.

kernel = pytest.mark.kernel
MiB = 1024 * 1024


@kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
@pytest_twisted.ensureDeferred
async def test_16_mib_each_way_through_tls_over_vsock(
    pems: dict[str, str], io: str
) -> None:
    port = free_vsock_port()
    server = serverFromString(
        reactor,
        f"vsock:{port}:io={io}:privateKey={pems['server']}"
        f":trustRoots={pems['client-ca']}",
    )
    client = clientFromString(
        reactor,
        f"vsock:local:{port}:io={io}:tls=yes:hostname=web.example"
        f":trustRoots={pems['server-ca']}:certificate={pems['client']}",
    )
    intact, _ = await exchange(server, client, 16 * MiB)
    assert intact


@kernel
@pytest.mark.parametrize(
    ("hostname", "roots", "certificate"),
    [
        ("wrong.example", "server-ca", "client"),
        ("web.example", "other-ca", "client"),
        ("web.example", "server-ca", "other"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_tls_over_vsock_refuses_what_does_not_verify(
    pems: dict[str, str], hostname: str, roots: str, certificate: str
) -> None:
    port = free_vsock_port()
    server = serverFromString(
        reactor,
        f"vsock:{port}:privateKey={pems['server']}:trustRoots={pems['client-ca']}",
    )
    client = clientFromString(
        reactor,
        f"vsock:local:{port}:tls=yes:hostname={hostname}"
        f":trustRoots={pems[roots]}:certificate={pems[certificate]}",
    )
    intact, _ = await exchange(server, client)
    assert not intact


@implementer(IPolicyForHTTPS)
class ExpectWebExample:
    """Every server must present web.example's certificate."""

    def __init__(self, roots: str) -> None:
        self._roots = roots

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return client_tls_options("web.example", trustRoots=self._roots)


@kernel
@pytest_twisted.ensureDeferred
async def test_treq_fetches_over_https_vsock_from_a_tls_string(
    pems: dict[str, str],
) -> None:
    root = Resource()
    root.putChild(b"hello", Data(b"over tls", "text/plain"))
    server = serverFromString(reactor, f"vsock:0:privateKey={pems['server']}")
    port: Any = await server.listen(Site(root))
    try:
        agent = vsock_agent(reactor, tls_policy=ExpectWebExample(pems["server-ca"]))
        url = f"https+vsock://local:{port.getHost().port}/hello"
        response = await treq.get(url, agent=agent)
        assert await response.content() == b"over tls"
    finally:
        await port.stopListening()
