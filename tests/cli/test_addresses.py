from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress

from twisted_hvsock.address import VSockAddress
from twisted_hvsock.cli.addresses import describe_address


@pytest.mark.parametrize(
    ("address", "text"),
    [
        (VSockAddress(0xFFFFFFFF, 12345), "vsock://any:12345"),
        (UNIXAddress(b"/run/s.sock"), "unix:/run/s.sock"),
        (IPv4Address("TCP", "127.0.0.1", 8080), "tcp:127.0.0.1:8080"),
        (IPv6Address("TCP", "::1", 8080), "tcp6:host=\\:\\:1:port=8080"),
    ],
)
def test_listening_addresses_read_as_client_addresses(address: Any, text: str) -> None:
    assert describe_address(address) == text
