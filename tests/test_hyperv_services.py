"""
Registering Hyper-V socket services, against a stand-in for ``winreg`` that
keeps Windows' paths, access rights and value types.
"""

from __future__ import annotations

import sys
import uuid

import pytest

from twisted_hvsock import hyperv_services
from twisted_hvsock.errors import HyperVAdminRequiredError, HyperVUnavailableError
from twisted_hvsock.hyperv_ids import service_id_for_port
from twisted_hvsock.hyperv_services import (
    SERVICES_KEY,
    RegisteredService,
    register_service,
    registered_services,
    unregister_service,
)

from .support.fake_hyperv import FakeWinreg

SERVICE = uuid.UUID("3049197c-9a4e-4fbf-9367-97f792f16994")
# Listed on every Hyper-V host (Microsoft's guide shows it).
VM_SESSION_SERVICE = uuid.UUID("999e53d4-3d5c-4c3e-8779-bed06ec056e1")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeWinreg:
    fake = FakeWinreg()
    fake.put(
        f"{SERVICES_KEY}\\{VM_SESSION_SERVICE}",
        {"ElementName": ("VM Session Service", fake.REG_SZ)},
    )
    monkeypatch.setattr(hyperv_services, "_registry_module", fake)
    return fake


def test_the_key_is_the_documented_one() -> None:
    assert SERVICES_KEY == (
        "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"
        "GuestCommunicationServices"
    )


def test_register_writes_element_name_as_reg_sz(registry: FakeWinreg) -> None:
    assert register_service(SERVICE, "My service") == SERVICE
    assert registry.values(f"{SERVICES_KEY}\\{SERVICE}") == {
        "ElementName": ("My service", registry.REG_SZ)
    }
    # The 64-bit view, whatever the Python's own bitness.
    assert all(access & registry.KEY_WOW64_64KEY for access in registry.accesses)


def test_a_port_registers_its_template_service(registry: FakeWinreg) -> None:
    assert register_service(5000, "Agent") == service_id_for_port(5000)
    assert registry.values(f"{SERVICES_KEY}\\00001388-facb-11e6-bd58-64006a7986d3")


def test_registering_again_renames(registry: FakeWinreg) -> None:
    register_service(SERVICE, "Old")
    register_service(SERVICE, "New")
    assert RegisteredService(SERVICE, "New") in registered_services()


def test_services_are_listed_with_their_names(registry: FakeWinreg) -> None:
    register_service(80, "Web")
    registry.put(f"{SERVICES_KEY}\\not-a-guid", {})
    registry.put(f"{SERVICES_KEY}\\{SERVICE}", {})
    assert registered_services() == sorted(
        [
            RegisteredService(service_id_for_port(80), "Web"),
            RegisteredService(VM_SESSION_SERVICE, "VM Session Service"),
            RegisteredService(SERVICE, ""),
        ],
        key=lambda service: str(service.service_id),
    )


def test_unregister_removes_the_key(registry: FakeWinreg) -> None:
    register_service(SERVICE, "My service")
    assert unregister_service(SERVICE) == SERVICE
    assert registry.values(f"{SERVICES_KEY}\\{SERVICE}") is None
    assert registry.values(f"{SERVICES_KEY}\\{VM_SESSION_SERVICE}") is not None


def test_a_key_spelt_with_braces_is_unregistered_too(registry: FakeWinreg) -> None:
    registry.put(f"{SERVICES_KEY}\\{{{SERVICE}}}", {})
    unregister_service(SERVICE)
    assert registered_services() == [
        RegisteredService(VM_SESSION_SERVICE, "VM Session Service")
    ]


def test_unregistering_what_is_not_registered_says_so(registry: FakeWinreg) -> None:
    with pytest.raises(ValueError, match=f"service {SERVICE} is not registered"):
        unregister_service(SERVICE)


@pytest.mark.parametrize(
    "change",
    [
        lambda: register_service(SERVICE, "x"),
        lambda: unregister_service(VM_SESSION_SERVICE),
    ],
)
def test_without_administrator_rights_the_error_says_so(
    registry: FakeWinreg, change: object
) -> None:
    registry.admin = False
    with pytest.raises(HyperVAdminRequiredError, match="run it as Administrator"):
        change()  # type: ignore[operator]
    # Listing needs no rights.
    assert registered_services()


@pytest.mark.parametrize(
    ("service", "name", "message"),
    [
        ("80", "x", "service must be a uuid.UUID or a vsock port"),
        (True, "x", "service must be"),
        (SERVICE, "", "name must be a non-empty friendly name"),
        (SERVICE, "a\0b", "name must be"),
        (2**32, "x", "port must be an integer"),
    ],
)
def test_bad_arguments_name_themselves(
    registry: FakeWinreg, service: object, name: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        register_service(service, name)  # type: ignore[arg-type]


def test_a_host_without_hyper_v_has_no_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hyperv_services, "_registry_module", FakeWinreg())
    assert registered_services() == []


def test_off_windows_the_error_says_where_services_live(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(HyperVUnavailableError, match="Windows host's registry"):
        registered_services()
