"""
The ``hyperkit:`` and ``hybridvsock:`` endpoint strings: found through the
plugin, turned into the right endpoints, and bad options named in the error.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import (
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from twisted.internet.testing import MemoryReactor
from twisted.plugin import getPlugins

from twisted_hvsock.hybrid_vsock import (
    HybridVSockClientEndpoint,
    HybridVSockServerEndpoint,
)
from twisted_hvsock.hyperkit import HyperkitClientEndpoint, HyperkitServerEndpoint
from twisted_hvsock.parsers import parse_mode

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def reactor() -> MemoryReactor:
    return MemoryReactor()


def test_the_plugin_registers_both_prefixes_for_both_roles() -> None:
    servers = {p.prefix for p in getPlugins(IStreamServerEndpointStringParser)}
    clients = {
        p.prefix for p in getPlugins(IStreamClientEndpointStringParserWithReactor)
    }
    assert {"hyperkit", "hybridvsock"} <= servers
    assert {"hyperkit", "hybridvsock"} <= clients


@pytest.mark.parametrize(
    ("description", "path", "backlog", "mode", "io"),
    [
        ("hyperkit:path=/vm:port=80", "/vm/00000002.00000050", 50, 0o600, "reactor"),
        (
            "hyperkit:/vm:80:mode=0660:io=threads",
            "/vm/00000002.00000050",
            50,
            0o660,
            "threads",
        ),
        (
            "hyperkit:path=vm:port=22:backlog=5:mode=0o640",
            "vm/00000002.00000016",
            5,
            0o640,
            "reactor",
        ),
    ],
)
def test_hyperkit_server_strings(
    reactor: MemoryReactor,
    description: str,
    path: str,
    backlog: int,
    mode: int,
    io: str,
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, HyperkitServerEndpoint)
    assert (endpoint._path, endpoint._backlog, endpoint._mode, endpoint._io) == (
        path,
        backlog,
        mode,
        io,
    )


@pytest.mark.parametrize(
    ("description", "cid", "port", "timeout"),
    [
        ("hyperkit:path=/vm:port=80", 3, 80, 30.0),
        ("hyperkit:/vm:80:cid=7:timeout=2.5", 7, 80, 2.5),
    ],
)
def test_hyperkit_client_strings(
    reactor: MemoryReactor, description: str, cid: int, port: int, timeout: float
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, HyperkitClientEndpoint)
    assert (endpoint._path, endpoint._cid, endpoint._port, endpoint._timeout) == (
        "/vm/connect",
        cid,
        port,
        timeout,
    )


def test_hybridvsock_strings_listen_on_path_underscore_port(
    reactor: MemoryReactor,
) -> None:
    server = serverFromString(reactor, "hybridvsock:path=/run/v.sock:port=52")
    assert isinstance(server, HybridVSockServerEndpoint)
    assert (server._path, server._mode) == ("/run/v.sock_52", 0o600)
    client = clientFromString(
        reactor, "hybridvsock:/run/v.sock:52:timeout=3:io=threads"
    )
    assert isinstance(client, HybridVSockClientEndpoint)
    assert (client._path, client._port, client._timeout, client._io) == (
        "/run/v.sock",
        52,
        3.0,
        "threads",
    )


@pytest.mark.parametrize(
    ("description", "words"),
    [
        ("hyperkit:port=80", "path is required"),
        ("hyperkit:path=/vm", "port is required"),
        ("hyperkit:path=/vm:port=http", "port must be a decimal number"),
        ("hyperkit:path=/vm:port=80:mode=999", "mode must be octal"),
        ("hyperkit:path=/vm:port=80:mode=", "mode must be octal"),
        ("hyperkit:path=/vm:port=80:mode=1777", "mode must be octal"),
        ("hyperkit:path=/vm:port=80:backlog=0", "backlog must be"),
        ("hyperkit:path=/vm:port=80:io=fibers", "io must be one of"),
        ("hyperkit:path=/vm:port=80:cid=3", "unknown option 'cid'"),
        ("hybridvsock:path=/v.sock:port=52:timeout=1", "unknown option 'timeout'"),
        ("hybridvsock:path=/v.sock:port=0", "port must be given"),
        (f"hybridvsock:path=/{'x' * 120}:port=52", "path .* relative path"),
    ],
)
def test_bad_server_strings_name_the_option(
    reactor: MemoryReactor, description: str, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        serverFromString(reactor, description)


@pytest.mark.parametrize(
    ("description", "words"),
    [
        ("hyperkit:path=/vm:port=80:cid=any", "cid must be an integer"),
        ("hyperkit:path=/vm:port=80:cid=guest", "cid must be a number"),
        ("hyperkit:path=/vm:port=80:timeout=-1", "timeout must be a positive"),
        ("hyperkit:path=/vm:port=80:mode=600", "unknown option 'mode'"),
        ("hybridvsock:path=/v.sock", "port is required"),
        ("hybridvsock:path=/v.sock:port=52:cid=3", "unknown option 'cid'"),
        ("hybridvsock:path=/v.sock:port=52:io=", "io must be one of"),
    ],
)
def test_bad_client_strings_name_the_option(
    reactor: MemoryReactor, description: str, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        clientFromString(reactor, description)


@pytest.mark.parametrize(
    ("text", "mode"), [("600", 0o600), ("0600", 0o600), ("0o666", 0o666), ("0", 0)]
)
def test_modes_are_octal(text: str, mode: int) -> None:
    assert parse_mode(text) == mode


def test_the_plugin_imports_without_af_vsock_af_unix_endpoints_or_fcntl() -> None:
    # As on Windows: no fcntl, no AF_VSOCK; the endpoint modules load only
    # when an endpoint is built.
    script = textwrap.dedent(
        """
        import socket, sys
        del socket.AF_VSOCK
        sys.modules["fcntl"] = None
        import twisted.plugins.twisted_hvsock_endpoints as plugin
        print(plugin.hyperkitServerParser.prefix, plugin.hybridVSockClientParser.prefix)
        loaded = ("twisted_hvsock.hyperkit", "twisted_hvsock._handshake")
        print(*(name in sys.modules for name in loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["hyperkit", "hybridvsock", "False", "False"]
