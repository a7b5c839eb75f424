"""
Hyper-V endpoints: on a Windows host (played by tests/support/fake_hyperv.py, as no
Windows machine is at hand) and, for what a Linux guest cannot express,
their errors. Real connections of the Linux-guest mapping are in the kernel
tier (tests/test_hyperv_guest.py); bulk data, half-close, backpressure, leaks
and reactor shutdown over AF_HYPERV are in tests/engines/test_streams.py;
VM names, looked up with PowerShell, in tests/test_hyperv_vm_names.py.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import types
import uuid
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread

from twisted_hvsock._sockets import hyperv
from twisted_hvsock.errors import HyperVUnavailableError
from twisted_hvsock.hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_ids import (
    VM_CHILDREN,
    VM_LOOPBACK,
    VM_PARENT,
    VM_WILDCARD,
    service_id_for_port,
)

from .support.fake_hyperv import (
    HV_PROTOCOL_RAW,
    HVSOCKET_CONNECT_TIMEOUT,
    HVSOCKET_CONNECTED_SUSPEND,
    WSAEACCES,
    WSAEADDRINUSE,
    WSAECONNREFUSED,
    WSAEHOSTUNREACH,
    WSAENETUNREACH,
    WSAETIMEDOUT,
    FakeHyperV,
    FakeSocketModule,
)

SERVICE = uuid.UUID("3049197c-9a4e-4fbf-9367-97f792f16994")


async def listening(service: uuid.UUID = SERVICE) -> Any:
    return await HyperVServerEndpoint(reactor, service).listen(
        Factory.forProtocol(Protocol)
    )


async def connect_once(close: str = "loseConnection", **arguments: Any) -> None:
    """Connect to a listener with ``arguments``, then close with ``close``."""
    port = await listening()
    try:
        client = await HyperVClientEndpoint(
            reactor, VM_LOOPBACK, SERVICE, **arguments
        ).connect(Factory.forProtocol(Protocol))
        getattr(client.transport, close)()
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_sockets_are_blocking_af_hyperv_raw_sockets(windows: FakeHyperV) -> None:
    await connect_once()
    assert len(windows.sockets) == 3  # listener, client, accepted
    for skt in windows.sockets:
        assert (skt.family, skt.type, skt.proto) == (34, 1, HV_PROTOCOL_RAW)
        assert skt.blocking


@pytest.mark.parametrize(
    ("timeout", "milliseconds"), [(2.5, 2500), (0.0001, 1), (1000, 300_000)]
)
@pytest_twisted.ensureDeferred
async def test_the_timeout_reaches_windows_in_milliseconds(
    windows: FakeHyperV, timeout: float, milliseconds: int
) -> None:
    # The option is set before the connect starts. A timeout of 0.1 ms may
    # run out before the connect thread reports back (the endpoint's own
    # timer wins under load), which this test does not check.
    with contextlib.suppress(error.TimeoutError):
        await connect_once(timeout=timeout)
    options = windows.sockets[1].options
    assert options[(HV_PROTOCOL_RAW, HVSOCKET_CONNECT_TIMEOUT)] == milliseconds


@pytest.mark.parametrize("suspend", [True, False])
@pytest_twisted.ensureDeferred
async def test_suspend_sets_hvsocket_connected_suspend(
    windows: FakeHyperV, suspend: bool
) -> None:
    await connect_once(suspend=suspend)
    options = windows.sockets[1].options
    assert options.get((HV_PROTOCOL_RAW, HVSOCKET_CONNECTED_SUSPEND)) == (
        1 if suspend else None
    )


@pytest_twisted.ensureDeferred
async def test_abort_sets_windows_linger_of_zero(windows: FakeHyperV) -> None:
    await connect_once("abortConnection")
    assert windows.sockets[1].linger_zero


@pytest.mark.parametrize("windows_knows_the_timeout", [True, False])
@pytest_twisted.ensureDeferred
async def test_a_vm_that_never_answers_times_out_and_its_thread_ends(
    windows: FakeHyperV,
    monkeypatch: pytest.MonkeyPatch,
    windows_knows_the_timeout: bool,
) -> None:
    if not windows_knows_the_timeout:
        # The endpoint's own timer must then cut the connect short.
        monkeypatch.delattr(FakeSocketModule, "HVSOCKET_CONNECT_TIMEOUT")
    vm_id = uuid.uuid4()
    windows.silent_vms.add(vm_id)
    before = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(error.TimeoutError):
        await HyperVClientEndpoint(reactor, vm_id, SERVICE, timeout=0.5).connect(
            Factory.forProtocol(Protocol)
        )
    assert time.monotonic() - started >= 0.45
    connecting = [
        thread
        for thread in threading.enumerate()
        if thread not in before and "HYPERV" in thread.name
    ]
    for thread in connecting:
        # Cancelled by the close, the blocked connect returns at once.
        await deferToThread(thread.join, 5)
        assert not thread.is_alive()
    assert windows.sockets[0].closed


@pytest.mark.parametrize(
    ("winsock_code", "twisted_error", "message"),
    [
        (WSAECONNREFUSED, error.ConnectionRefusedError, "nothing listens on hvsock"),
        (WSAETIMEDOUT, error.TimeoutError, "timed out connecting to hvsock"),
        (WSAEHOSTUNREACH, error.NoRouteError, "is running"),
        (WSAENETUNREACH, error.NoRouteError, "is running"),
        (WSAEACCES, error.ConnectError, "register the service"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_windows_connect_errors_become_twisted_s(
    windows: FakeHyperV,
    winsock_code: int,
    twisted_error: type[Exception],
    message: str,
) -> None:
    vm_id = uuid.uuid4()
    windows.connect_errors[vm_id] = winsock_code
    with pytest.raises(twisted_error, match=message):
        await HyperVClientEndpoint(reactor, vm_id, SERVICE).connect(Factory())


@pytest.mark.parametrize(
    ("winsock_code", "message"),
    [(WSAEACCES, "register the service"), (WSAEADDRINUSE, "already listens")],
)
@pytest_twisted.ensureDeferred
async def test_windows_listen_errors_say_what_to_do(
    windows: FakeHyperV, winsock_code: int, message: str
) -> None:
    windows.bind_errors[SERVICE] = winsock_code
    with pytest.raises(error.CannotListenError, match=message):
        await listening()


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), -1, 0])
def test_a_timeout_must_be_positive_and_finite(
    windows: FakeHyperV, timeout: float
) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive, finite"):
        HyperVClientEndpoint(reactor, VM_LOOPBACK, SERVICE, timeout=timeout)


def test_well_known_vm_names_are_ids_not_display_names(windows: FakeHyperV) -> None:
    assert HyperVClientEndpoint(reactor, "Parent", SERVICE)._vm == VM_PARENT


@pytest_twisted.ensureDeferred
async def test_connecting_where_nothing_listens_is_refused(windows: FakeHyperV) -> None:
    with pytest.raises(error.ConnectionRefusedError, match="nothing listens on hvsock"):
        await HyperVClientEndpoint(reactor, VM_LOOPBACK, SERVICE).connect(
            Factory.forProtocol(Protocol)
        )


@pytest_twisted.ensureDeferred
async def test_a_service_listened_on_twice_cannot_listen(windows: FakeHyperV) -> None:
    port = await listening()
    try:
        with pytest.raises(error.CannotListenError, match="already listens"):
            await listening()
    finally:
        await port.stopListening()


@pytest.mark.parametrize("io", ["reactor", "epoll"])
def test_af_hyperv_takes_only_the_threads_engine(windows: FakeHyperV, io: str) -> None:
    with pytest.raises(ValueError, match="io"):
        HyperVServerEndpoint(reactor, SERVICE, io=io)
    with pytest.raises(ValueError, match="io"):
        HyperVClientEndpoint(reactor, VM_LOOPBACK, SERVICE, io=io)


@pytest.mark.parametrize(
    ("platform", "message"),
    [
        ("win32", "need Python 3.12 or later on Windows"),
        ("darwin", "need Windows .* or a Linux guest"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_without_af_hyperv_the_error_says_what_is_needed(
    monkeypatch: pytest.MonkeyPatch, platform: str, message: str
) -> None:
    monkeypatch.setattr(hyperv, "_socket_module", types.SimpleNamespace())
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(HyperVUnavailableError, match=message):
        await HyperVServerEndpoint(reactor, SERVICE).listen(Factory())
    with pytest.raises(HyperVUnavailableError, match=message):
        await HyperVClientEndpoint(reactor, VM_PARENT, SERVICE).connect(Factory())


# What a Linux guest cannot express.


@pytest.fixture
def linux_guest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hyperv, "_socket_module", types.SimpleNamespace())
    monkeypatch.setattr(sys, "platform", "linux")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"vm": VM_CHILDREN, "service_id": 80}, "vm: a Linux guest connects"),
        ({"vm": uuid.uuid4(), "service_id": 80}, "vm: a Linux guest connects"),
        ({"vm": "MyVM", "service_id": 80}, "looked up on the Windows host"),
        ({"vm": VM_PARENT, "service_id": SERVICE}, "is not a Linux vsock port"),
        ({"vm": VM_PARENT, "service_id": 80, "suspend": True}, "suspend"),
        ({"vm": VM_PARENT, "service_id": 80, "timeout": 0}, "timeout"),
        ({"vm": VM_PARENT, "service_id": "80"}, "service_id"),
    ],
)
def test_client_arguments_a_linux_guest_cannot_use(
    linux_guest: None, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        HyperVClientEndpoint(reactor, **arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"service_id": 80, "vm_id": VM_PARENT}, "vm: a Linux guest listens"),
        ({"service_id": 80, "vm_id": VM_CHILDREN}, "vm: a Linux guest listens"),
        ({"service_id": SERVICE}, "is not a Linux vsock port"),
        ({"service_id": 80, "backlog": 0}, "backlog"),
        ({"service_id": 2**32}, "port must be an integer"),
    ],
)
def test_server_arguments_a_linux_guest_cannot_use(
    linux_guest: None, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        HyperVServerEndpoint(reactor, **arguments)


def test_a_linux_guest_maps_the_wildcard_and_template_services(
    linux_guest: None,
) -> None:
    endpoint = HyperVServerEndpoint(reactor, service_id_for_port(5000), VM_WILDCARD)
    assert repr(endpoint._vsock) == "<VSockServerEndpoint vsock://any:5000>"
    client = HyperVClientEndpoint(reactor, VM_PARENT, 5000)
    assert repr(client._vsock) == "<VSockClientEndpoint vsock://2:5000>"
