"""
The public API: every name ``twisted_hvsock`` exports is the object of the
module that defines it, and importing the package stays cheap.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import twisted_hvsock

#: Public name -> the public module that defines it.
DEFINED_IN = {
    "CID_ANY": "address",
    "CID_HOST": "address",
    "CID_HYPERVISOR": "address",
    "CID_LOCAL": "address",
    "PORT_ANY": "address",
    "VSockAddress": "address",
    "local_cid": "address",
    "HyperVAddress": "hyperv_ids",
    "HyperVAdminRequiredError": "errors",
    "HyperVUnavailableError": "errors",
    "VSockUnavailableError": "errors",
    "MissingDependencyError": "errors",
    "VMLookupError": "errors",
    "WaitTimeoutError": "errors",
    "MessageTooLongError": "errors",
    "IMessageTransport": "interfaces",
    "IOEngine": "vsock",
    "VSockServerEndpoint": "vsock",
    "VSockClientEndpoint": "vsock",
    "HyperVServerEndpoint": "hyperv",
    "HyperVClientEndpoint": "hyperv",
    "HyperkitServerEndpoint": "hyperkit",
    "HyperkitClientEndpoint": "hyperkit",
    "HybridVSockServerEndpoint": "hybrid_vsock",
    "HybridVSockClientEndpoint": "hybrid_vsock",
    "ThreadedUNIXServerEndpoint": "threaded_unix",
    "ThreadedUNIXClientEndpoint": "threaded_unix",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(twisted_hvsock.__all__) == {*DEFINED_IN, "__version__"}


@pytest.mark.parametrize("name", sorted(DEFINED_IN))
def test_each_public_name_is_the_defining_module_s_object(name: str) -> None:
    module = importlib.import_module(f"twisted_hvsock.{DEFINED_IN[name]}")
    assert getattr(twisted_hvsock, name) is getattr(module, name)
    assert name in module.__all__


def test_from_import_star_gives_every_public_name() -> None:
    names: dict[str, object] = {}
    exec("from twisted_hvsock import *", names)
    assert set(twisted_hvsock.__all__) <= set(names)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_endpoint"):
        twisted_hvsock.no_such_endpoint  # noqa: B018


def test_the_version_is_the_distribution_s() -> None:
    from importlib.metadata import version

    assert twisted_hvsock.__version__ == version("twisted-hvsock")


#: What importing the package loads: the backends, their parsers and what
#: they stand on, but neither engine (``_engines.reactor``,
#: ``_engines.threads``), nor Twisted's TCP or TLS machinery.
LOADED_ON_IMPORT = {
    "twisted_hvsock._activation",
    "twisted_hvsock._checks",
    "twisted_hvsock._engines",
    "twisted_hvsock._engines._gate",
    "twisted_hvsock._guest_listener",
    "twisted_hvsock._handshake",
    "twisted_hvsock._in_thread",
    "twisted_hvsock._not_ready",
    "twisted_hvsock._options",
    "twisted_hvsock._sockets",
    "twisted_hvsock._sockets.hyperv",
    "twisted_hvsock._sockets.libc",
    "twisted_hvsock._sockets.unix",
    "twisted_hvsock._sockets.vsock",
    "twisted_hvsock._sockets.vsock_client",
    "twisted_hvsock._transport",
    "twisted_hvsock._waiting",
    "twisted_hvsock.address",
    "twisted_hvsock.allow",
    "twisted_hvsock.errors",
    "twisted_hvsock.hybrid_vsock",
    "twisted_hvsock.hyperkit",
    "twisted_hvsock.hyperv",
    "twisted_hvsock.hyperv_ids",
    "twisted_hvsock.hyperv_vm_names",
    "twisted_hvsock.interfaces",
    "twisted_hvsock.linux_vm_names",
    "twisted_hvsock.threaded_unix",
    "twisted_hvsock.tls",
    "twisted_hvsock.vsock",
}


def test_importing_the_package_loads_no_io_engine() -> None:
    # Twisted's plugin scan imports the package; the engines (and Twisted's
    # TCP machinery under the reactor engine) load only with an endpoint.
    script = textwrap.dedent(
        """
        import sys
        import twisted_hvsock
        loaded = [m for m in sys.modules if m.startswith("twisted_hvsock.")]
        print(" ".join(sorted(loaded)))
        print("twisted.internet.tcp" in sys.modules, "OpenSSL" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded, heavy = result.stdout.split("\n")[:2]
    assert set(loaded.split()) == LOADED_ON_IMPORT
    assert heavy == "False False"


@pytest.mark.parametrize(
    "name", sorted(n for n in DEFINED_IN if n.endswith("Endpoint"))
)
def test_each_endpoint_class_declares_its_twisted_interface(name: str) -> None:
    from twisted.internet.interfaces import (
        IStreamClientEndpoint,
        IStreamServerEndpoint,
    )

    interface = (
        IStreamServerEndpoint
        if name.endswith("ServerEndpoint")
        else IStreamClientEndpoint
    )
    assert interface.implementedBy(getattr(twisted_hvsock, name))


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        (
            "endpoints",
            "vsock",
            ["IOEngine", "VSockServerEndpoint", "VSockClientEndpoint"],
        ),
        (
            "hyperv_endpoints",
            "hyperv",
            ["HyperVServerEndpoint", "HyperVClientEndpoint"],
        ),
        (
            "parsers",
            "vsock",
            ["VSockServerParser", "VSockClientParser"],
        ),
        ("parsers", "hyperv", ["HyperVServerParser", "HyperVClientParser"]),
        ("parsers", "hyperkit", ["HyperkitServerParser", "HyperkitClientParser"]),
        (
            "parsers",
            "hybrid_vsock",
            ["HybridVSockServerParser", "HybridVSockClientParser"],
        ),
    ],
)
def test_the_old_modules_still_give_the_moved_names(
    old: str, new: str, names: list[str]
) -> None:
    # Kept for one release (docs/changes/28.removal.rst).
    before = importlib.import_module(f"twisted_hvsock.{old}")
    after = importlib.import_module(f"twisted_hvsock.{new}")
    for name in names:
        assert getattr(before, name) is getattr(after, name)
