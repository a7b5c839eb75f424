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
    "IOEngine": "endpoints",
    "VSockServerEndpoint": "endpoints",
    "VSockClientEndpoint": "endpoints",
    "HyperVServerEndpoint": "hyperv_endpoints",
    "HyperVClientEndpoint": "hyperv_endpoints",
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


def test_importing_the_package_loads_no_io_engine() -> None:
    # Twisted's plugin scan imports the package; the engines (and Twisted's
    # TCP machinery under the reactor engine) load only with an endpoint.
    script = textwrap.dedent(
        """
        import sys
        import twisted_hvsock
        loaded = [m for m in sys.modules if m.startswith("twisted_hvsock.")]
        print(" ".join(sorted(loaded)))
        print("twisted.internet.tcp" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded, tcp = result.stdout.split("\n")[:2]
    assert set(loaded.split()) == {
        "twisted_hvsock.address",
        "twisted_hvsock.errors",
        "twisted_hvsock.hyperv_ids",
    }
    assert tcp == "False"


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
