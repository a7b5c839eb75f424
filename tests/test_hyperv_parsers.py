"""
``hvsock:`` endpoint strings, on a Windows host (played by
tests/support/fake_hyperv.py) and, where they differ, in a Linux guest.
"""

from __future__ import annotations

import contextlib
import sys
import types
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.testing import MemoryReactor

from twisted_hvsock._sockets import hyperv as _hyperv_socket
from twisted_hvsock.hyperv_endpoints import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_ids import (
    VM_CHILDREN,
    VM_LOOPBACK,
    VM_PARENT,
    VM_WILDCARD,
    service_id_for_port,
)
from twisted_hvsock.parsers import HyperVClientParser, HyperVServerParser

from .support.fake_hyperv import FakeHyperV

SERVICE = "3049197c-9a4e-4fbf-9367-97f792f16994"
VM = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


@pytest.fixture
def reactor() -> MemoryReactor:
    return MemoryReactor()


@pytest.fixture(autouse=True)
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", FakeHyperV().module)


@pytest.mark.parametrize(
    ("description", "service_id", "vm_id", "backlog"),
    [
        ("hvsock:service=80", service_id_for_port(80), VM_WILDCARD, 50),
        ("hvsock:80", service_id_for_port(80), VM_WILDCARD, 50),
        (f"hvsock:service={SERVICE}", uuid.UUID(SERVICE), VM_WILDCARD, 50),
        (
            f"hvsock:service={SERVICE.upper()}:vm=children:backlog=5",
            uuid.UUID(SERVICE),
            VM_CHILDREN,
            5,
        ),
        (f"hvsock:service=22:vm={{{VM}}}", service_id_for_port(22), uuid.UUID(VM), 50),
        (
            "hvsock:service=22:vm=ZERO:io=threads",
            service_id_for_port(22),
            VM_WILDCARD,
            50,
        ),
    ],
)
def test_server_strings(
    reactor: MemoryReactor,
    description: str,
    service_id: uuid.UUID,
    vm_id: uuid.UUID,
    backlog: int,
) -> None:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, HyperVServerEndpoint)
    assert (endpoint._service_id, endpoint._vm_id, endpoint._backlog) == (
        service_id,
        vm_id,
        backlog,
    )


@pytest.mark.parametrize(
    ("description", "vm", "service_id", "timeout", "suspend"),
    [
        ("hvsock:vm=parent:service=80", VM_PARENT, service_id_for_port(80), 30, False),
        (
            "hvsock:loopback:80:timeout=2",
            VM_LOOPBACK,
            service_id_for_port(80),
            2,
            False,
        ),
        (
            f"hvsock:vm={VM}:service={SERVICE}:suspend=true",
            uuid.UUID(VM),
            uuid.UUID(SERVICE),
            30,
            True,
        ),
        ("hvsock:vm=MyVM:service=6000", "MyVM", service_id_for_port(6000), 30, False),
        (
            r"hvsock:vm=Web\:1:service=80:suspend=NO",
            "Web:1",
            service_id_for_port(80),
            30,
            False,
        ),
    ],
)
def test_client_strings(
    reactor: MemoryReactor,
    description: str,
    vm: uuid.UUID | str,
    service_id: uuid.UUID,
    timeout: float,
    suspend: bool,
) -> None:
    endpoint = clientFromString(reactor, description)
    assert isinstance(endpoint, HyperVClientEndpoint)
    assert (
        endpoint._vm,
        endpoint._service_id,
        endpoint._timeout,
        endpoint._suspend,
    ) == (vm, service_id, timeout, suspend)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("hvsock:vm=children", "service is required"),
        ("hvsock:service=http", "service must be a GUID or a decimal vsock port"),
        ("hvsock:service=4294967296", "service as a port must be at most"),
        ("hvsock:service=80:vm=MyVM", "vm must be a GUID or one of"),
        ("hvsock:service=80:backlog=-1", "backlog must be a positive number"),
        ("hvsock:service=80:io=reactor", "io=reactor is not possible for AF_HYPERV"),
        ("hvsock:service=80:port=3", "unknown option 'port'"),
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
        ("hvsock:vm=parent", "service is required"),
        ("hvsock:service=80", "vm is required"),
        ("hvsock:vm=:service=80", "vm must be"),
        ("hvsock:vm=parent:service=80:suspend=maybe", "suspend must be true or false"),
        ("hvsock:vm=parent:service=80:timeout=never", "timeout must be a positive"),
        ("hvsock:vm=parent:service=80:io=fast", "io must be one of"),
    ],
)
def test_bad_client_strings_name_the_option(
    reactor: MemoryReactor, description: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        clientFromString(reactor, description)


def test_errors_quote_the_accepted_form(reactor: MemoryReactor) -> None:
    with pytest.raises(ValueError, match=r"usage: hvsock:\[vm=\]<vm>:\[service=\]"):
        clientFromString(reactor, "hvsock:parent")


@pytest.mark.parametrize(
    ("description", "message"),
    [
        (f"hvsock:vm=parent:service={SERVICE}", "is not a Linux vsock port"),
        ("hvsock:vm=MyVM:service=80", "looked up on the Windows host"),
        ("hvsock:vm=parent:service=80:suspend=true", "suspend"),
    ],
)
def test_in_a_linux_guest_strings_it_cannot_serve_are_value_errors(
    reactor: MemoryReactor,
    monkeypatch: pytest.MonkeyPatch,
    description: str,
    message: str,
) -> None:
    monkeypatch.setattr(_hyperv_socket, "_socket_module", types.SimpleNamespace())
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(ValueError, match=message):
        clientFromString(reactor, description)


text = st.text(max_size=40)
options = st.dictionaries(
    st.sampled_from(["vm", "service", "backlog", "timeout", "suspend", "io", "x"]),
    text,
    max_size=4,
)


@given(st.lists(text, max_size=3), options)
def test_parsers_raise_only_value_error_on_garbage(
    args: list[str], kwargs: dict[str, str]
) -> None:
    with contextlib.suppress(ValueError):
        HyperVServerParser().parseStreamServer(MemoryReactor(), *args, **kwargs)
    with contextlib.suppress(ValueError):
        HyperVClientParser().parseStreamClient(MemoryReactor(), *args, **kwargs)
