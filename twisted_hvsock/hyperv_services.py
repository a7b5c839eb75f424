"""
Registering Hyper-V socket services on the Windows host.

Before a VM can connect to a service of its host, or the host to a service of
a VM, the host must list the service ID in its registry, under
``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\
GuestCommunicationServices\\<service ID>``, with its friendly name in the
``ElementName`` string value. Writing there needs Administrator rights.
Nothing needs registering inside a Linux guest.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from typing import Any

from .errors import HyperVAdminRequiredError, HyperVUnavailableError
from .hyperv_ids import service_id_for_port

__all__ = [
    "SERVICES_KEY",
    "RegisteredService",
    "register_service",
    "registered_services",
    "unregister_service",
]

#: Where, under ``HKEY_LOCAL_MACHINE``, Hyper-V looks for registered services.
SERVICES_KEY = (
    r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization"
    r"\GuestCommunicationServices"
)
_NAME_VALUE = "ElementName"

# Replaced by the tests' stand-in for Windows' registry.
_registry_module: Any = None


@dataclass(frozen=True)
class RegisteredService:
    """A service listed in the host's registry, with its friendly name."""

    service_id: uuid.UUID
    name: str


def _winreg() -> Any:
    if _registry_module is not None:
        return _registry_module
    if sys.platform != "win32":
        raise HyperVUnavailableError(
            "Hyper-V socket services are registered in the Windows host's "
            f"registry; this is {sys.platform} (a Linux guest registers nothing)"
        )
    import winreg

    return winreg


def _service_id(service: uuid.UUID | int) -> uuid.UUID:
    if isinstance(service, uuid.UUID):
        return service
    if isinstance(service, int) and not isinstance(service, bool):
        return service_id_for_port(service)
    raise ValueError(f"service must be a uuid.UUID or a vsock port, got {service!r}")


def _admin_required(action: str) -> HyperVAdminRequiredError:
    return HyperVAdminRequiredError(
        f"{action} writes HKEY_LOCAL_MACHINE\\{SERVICES_KEY}: run it as Administrator"
    )


def register_service(service: uuid.UUID | int, name: str) -> uuid.UUID:
    """
    List ``service`` in the host's registry under the friendly ``name``
    (replacing the name of a service listed already).

    :param service: a service ID, or a vsock port (the Linux template's ID).
    :return: the service ID registered.
    :raises ValueError: for a service or name that is not one.
    :raises HyperVAdminRequiredError: without Administrator rights.
    """
    service_id = _service_id(service)
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise ValueError(f"name must be a non-empty friendly name, got {name!r}")
    reg = _winreg()
    access = reg.KEY_WRITE | reg.KEY_WOW64_64KEY
    try:
        with reg.CreateKeyEx(
            reg.HKEY_LOCAL_MACHINE, rf"{SERVICES_KEY}\{service_id}", 0, access
        ) as key:
            reg.SetValueEx(key, _NAME_VALUE, 0, reg.REG_SZ, name)
    except PermissionError:
        raise _admin_required(f"registering service {service_id}") from None
    return service_id


def unregister_service(service: uuid.UUID | int) -> uuid.UUID:
    """
    Remove ``service`` from the host's registry.

    :return: the service ID removed.
    :raises ValueError: if the service is not registered.
    :raises HyperVAdminRequiredError: without Administrator rights.
    """
    service_id = _service_id(service)
    reg = _winreg()
    access = reg.KEY_WRITE | reg.KEY_WOW64_64KEY
    try:
        with reg.OpenKey(reg.HKEY_LOCAL_MACHINE, SERVICES_KEY, 0, access) as key:
            # Registered by hand, the key may be spelt with braces.
            for name in (str(service_id), f"{{{service_id}}}"):
                try:
                    reg.DeleteKeyEx(key, name, reg.KEY_WOW64_64KEY, 0)
                    return service_id
                except FileNotFoundError:
                    continue
    except FileNotFoundError:
        pass  # no service is registered at all
    except PermissionError:
        raise _admin_required(f"unregistering service {service_id}") from None
    raise ValueError(f"service {service_id} is not registered")


def registered_services() -> list[RegisteredService]:
    """
    The services listed in the host's registry, by service ID; a service
    without a friendly name has the name ``""``.
    """
    reg = _winreg()
    access = reg.KEY_READ | reg.KEY_WOW64_64KEY
    services = []
    try:
        with reg.OpenKey(reg.HKEY_LOCAL_MACHINE, SERVICES_KEY, 0, access) as key:
            index = 0
            while True:
                try:
                    subkey = reg.EnumKey(key, index)
                except OSError:
                    break  # ERROR_NO_MORE_ITEMS
                index += 1
                try:
                    service_id = uuid.UUID(subkey.strip("{}"))
                except ValueError:
                    continue  # not a service ID: nothing Hyper-V would use
                services.append(RegisteredService(service_id, _name(reg, key, subkey)))
    except FileNotFoundError:
        return []  # Hyper-V is not installed: nothing is registered
    return sorted(services, key=lambda service: str(service.service_id))


def _name(reg: Any, parent: Any, subkey: str) -> str:
    try:
        with reg.OpenKey(parent, subkey, 0, reg.KEY_READ | reg.KEY_WOW64_64KEY) as key:
            value, kind = reg.QueryValueEx(key, _NAME_VALUE)
    except FileNotFoundError:
        return ""
    return value if kind == reg.REG_SZ and isinstance(value, str) else ""
