"""
Twisted's plugin system finds the endpoint parsers, the plugin module is
safe to import where AF_VSOCK does not exist, and both kinds of install
put the plugin where Twisted looks.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import venv
from pathlib import Path

from twisted.internet.interfaces import (
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import getPlugins

from .test_exports import LOADED_ON_IMPORT

ROOT = Path(__file__).resolve().parent.parent

# Resolves a server and a client string, in whatever Python runs it, and
# says where the plugin module came from.
RESOLVE = textwrap.dedent(
    """
    from twisted.internet import reactor
    from twisted.internet.endpoints import clientFromString, serverFromString
    print(type(serverFromString(reactor, "vsock:port=5000")).__name__)
    print(type(clientFromString(reactor, "vsock:cid=3:port=5000")).__name__)
    import twisted.plugins.twisted_hvsock_endpoints as plugin
    print(plugin.__file__)
    """
)


def test_plugin_system_finds_every_parser() -> None:
    servers = {p.prefix for p in getPlugins(IStreamServerEndpointStringParser)}
    clients = {
        p.prefix for p in getPlugins(IStreamClientEndpointStringParserWithReactor)
    }
    assert {"vsock", "hvsock", "hyperkit", "hybridvsock"} <= servers
    assert {"vsock", "hvsock", "hyperkit", "hybridvsock"} <= clients


def test_plugin_imports_without_af_vsock_fcntl_or_an_engine() -> None:
    # As on Windows (no fcntl, no AF_VSOCK) and macOS (no AF_VSOCK); the
    # parsers sit beside their endpoints, whose engine loads only when an
    # endpoint is used: the scan loads what importing the package does.
    script = textwrap.dedent(
        """
        import socket, sys
        del socket.AF_VSOCK
        sys.modules["fcntl"] = None
        import twisted.plugins.twisted_hvsock_endpoints as plugin
        print(plugin.vsockServerParser.prefix, plugin.hvsockClientParser.prefix)
        print(plugin.hyperkitServerParser.prefix, plugin.hybridVSockClientParser.prefix)
        print(*sorted(m for m in sys.modules if m.startswith("twisted_hvsock.")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    prefixes, more_prefixes, loaded = result.stdout.splitlines()
    assert (prefixes + " " + more_prefixes).split() == [
        "vsock",
        "hvsock",
        "hyperkit",
        "hybridvsock",
    ]
    assert set(loaded.split()) == LOADED_ON_IMPORT


def fresh_venv(where: Path) -> Path:
    # Isolated from every other site-packages, so nothing but the install
    # under test can supply the plugin.
    venv.EnvBuilder(with_pip=True).create(where)
    return where / "bin" / "python"


def pip_install(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *args],
        check=True,
        capture_output=True,
    )


def resolve_outside_the_checkout(python: Path, cwd: Path) -> tuple[list[str], Path]:
    result = subprocess.run(
        [str(python), "-c", RESOLVE],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    *endpoints, plugin_file = result.stdout.split()
    return endpoints, Path(plugin_file)


def test_plugin_resolves_after_a_wheel_install(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("twisted_hvsock-*.whl")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, str(wheel))
    endpoints, plugin_file = resolve_outside_the_checkout(python, tmp_path)
    assert endpoints == ["VSockServerEndpoint", "VSockClientEndpoint"]
    assert plugin_file.is_relative_to(tmp_path / "venv")


def test_plugin_resolves_after_an_editable_install(tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, "--editable", str(ROOT))
    endpoints, plugin_file = resolve_outside_the_checkout(python, tmp_path)
    assert endpoints == ["VSockServerEndpoint", "VSockClientEndpoint"]
    assert plugin_file == ROOT / "twisted" / "plugins" / "twisted_hvsock_endpoints.py"
