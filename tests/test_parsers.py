from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.testing import MemoryReactor

from twisted_hvsock.address import CID_ANY, CID_HOST
from twisted_hvsock.endpoints import VSockClientEndpoint, VSockServerEndpoint
from twisted_hvsock.parsers import VSockClientParser, VSockServerParser


@pytest.fixture
def reactor() -> MemoryReactor:
    return MemoryReactor()


@pytest.mark.parametrize(
    ("description", "port", "cid", "backlog"),
    [
        ("vsock:port=5000", 5000, CID_ANY, 50),
        ("vsock:5000", 5000, CID_ANY, 50),
        ("vsock:5000:backlog=128", 5000, CID_ANY, 128),
        ("vsock:port=0", 0, CID_ANY, 50),
        ("vsock:port=5000:cid=local", 5000, 1, 50),
        ("vsock:port=5000:cid=3", 5000, 3, 50),
        ("vsock:port=4294967294", 2**32 - 2, CID_ANY, 50),
    ],
)
def test_server_strings(
    reactor: MemoryReactor, description: str, port: int, cid: int, backlog: int
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, VSockServerEndpoint)
    assert (endpoint._port, endpoint._cid, endpoint._backlog) == (port, cid, backlog)


@pytest.mark.parametrize(
    ("description", "cid", "port", "timeout"),
    [
        ("vsock:cid=3:port=5000", 3, 5000, 30.0),
        ("vsock:3:5000", 3, 5000, 30.0),
        ("vsock:host:5000:timeout=5", CID_HOST, 5000, 5.0),
        ("vsock:cid=LOCAL:port=1:timeout=0.5", 1, 1, 0.5),
        ("vsock:hypervisor:port=22", 0, 22, 30.0),
    ],
)
def test_client_strings(
    reactor: MemoryReactor, description: str, cid: int, port: int, timeout: float
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, VSockClientEndpoint)
    assert (endpoint._cid, endpoint._port, endpoint._timeout) == (cid, port, timeout)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:", "port must be a decimal number, got ''"),
        ("vsock:backlog=5", "port is required"),
        ("vsock:port=65536x", "port must be a decimal number"),
        ("vsock:port=-1", "port must be a decimal number"),
        ("vsock:port=4294967295", "port must be an integer from 0 to 4294967294"),
        ("vsock:port=80:cid=guest", "cid must be a number or one of any, hypervisor"),
        ("vsock:port=80:cid=4294967296", "cid must be an integer"),
        ("vsock:port=80:backlog=0", "backlog must be a positive number"),
        ("vsock:port=80:backlog=many", "backlog must be a positive number"),
        (
            "vsock:port=80:interface=lo",
            "unknown option 'interface'; accepted: port, cid, backlog",
        ),
        ("vsock:80:81", "too many positional arguments"),
        ("vsock:80:port=81", "port is given twice"),
    ],
)
def test_bad_server_strings_name_the_option(
    reactor: MemoryReactor, description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        serverFromString(reactor, description)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("vsock:port=80", "cid is required"),
        ("vsock:3", "port is required"),
        ("vsock:any:80", "only for listening"),
        ("vsock:3:80:timeout=0", "timeout must be a positive number"),
        ("vsock:3:80:timeout=nan", "timeout must be a positive number"),
        ("vsock:3:80:timeout=soon", "timeout must be a positive number"),
        (
            "vsock:3:80:backlog=5",
            "unknown option 'backlog'; accepted: cid, port, timeout",
        ),
    ],
)
def test_bad_client_strings_name_the_option(
    reactor: MemoryReactor, description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        clientFromString(reactor, description)


def test_errors_quote_the_accepted_form(reactor: MemoryReactor) -> None:
    with pytest.raises(ValueError, match=r"usage: vsock:\[cid=\]<cid>:\[port=\]<port>"):
        clientFromString(reactor, "vsock:3")


text = st.text(max_size=12)
options = st.dictionaries(
    st.sampled_from(["port", "cid", "backlog", "timeout", "x"]), text, max_size=4
)


@given(st.lists(text, max_size=3), options)
def test_server_parser_raises_only_value_error_on_garbage(
    args: list[str], kwargs: dict[str, str]
) -> None:
    with contextlib.suppress(ValueError):
        VSockServerParser().parseStreamServer(MemoryReactor(), *args, **kwargs)


@given(st.lists(text, max_size=3), options)
def test_client_parser_raises_only_value_error_on_garbage(
    args: list[str], kwargs: dict[str, str]
) -> None:
    with contextlib.suppress(ValueError):
        VSockClientParser().parseStreamClient(MemoryReactor(), *args, **kwargs)


@given(st.text(alphabet="vsockportcidbacklgtme=:0123456789-.x ", max_size=40))
def test_whole_description_garbage_raises_only_value_error(garbage: str) -> None:
    for build in (serverFromString, clientFromString):
        with contextlib.suppress(ValueError):
            build(MemoryReactor(), "vsock:" + garbage)
