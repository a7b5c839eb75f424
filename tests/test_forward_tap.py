"""
``twistd hvsock-forward``'s options and service: both addresses required,
named when missing, and the service listening where --listen says with a
relay to --connect.
"""

from __future__ import annotations

import pytest
from twisted.application.internet import StreamServerEndpointService
from twisted.internet.endpoints import UNIXServerEndpoint
from twisted.python import usage

from twisted_hvsock.forward import ForwardingFactory
from twisted_hvsock.forward_tap import Options, makeService


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        ([], "--listen"),
        (["--listen", "tcp:8080"], "--connect"),
        (["--connect", "unix:/tmp/x"], "--listen"),
    ],
)
def test_each_address_is_required_by_name(argv: list[str], missing: str) -> None:
    with pytest.raises(usage.UsageError, match=f"{missing} is required"):
        Options().parseOptions(argv)


def test_the_service_listens_where_told_and_relays(tmp_path: object) -> None:
    options = Options()
    options.parseOptions(
        ["--listen", f"unix:{tmp_path}/in.sock", "--connect", f"unix:{tmp_path}/out"]
    )
    service = makeService(options)
    assert isinstance(service, StreamServerEndpointService)
    assert isinstance(service.endpoint, UNIXServerEndpoint)
    assert isinstance(service.factory, ForwardingFactory)
