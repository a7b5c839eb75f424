"""
Hyper-V VM names, looked up with PowerShell on the Windows host (played by
tests/support/fake_hyperv.py): the name passed as data, never as script, and
each way the lookup can fail said in words.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock.errors import HyperVAdminRequiredError, HyperVUnavailableError
from twisted_hvsock.hyperv import HyperVClientEndpoint, HyperVServerEndpoint
from twisted_hvsock.hyperv_vm_names import POWERSHELL, VM_NAME_VARIABLE

from .support.fake_hyperv import FakeHyperV, FakePowerShell

SERVICE = uuid.UUID("3049197c-9a4e-4fbf-9367-97f792f16994")


async def listening() -> Any:
    return await HyperVServerEndpoint(reactor, SERVICE).listen(
        Factory.forProtocol(Protocol)
    )


TRICKY_NAME = "web'; Remove-Item -Recurse C:\\ ; $x = \"*"


@pytest_twisted.ensureDeferred
async def test_a_vm_name_is_looked_up_as_data_then_connected_to(
    windows: FakeHyperV, powershell: FakePowerShell
) -> None:
    vm_id = uuid.uuid4()
    powershell.add_vm(TRICKY_NAME, vm_id)
    port = await listening()
    try:
        client = await HyperVClientEndpoint(reactor, TRICKY_NAME, SERVICE).connect(
            Factory.forProtocol(Protocol)
        )
        assert client.transport.getPeer().vm_id == vm_id
        client.transport.loseConnection()
    finally:
        await port.stopListening()
    [call] = powershell.calls
    assert call["name"] == TRICKY_NAME
    assert call["stdin_is_devnull"]  # the user's stdin is not PowerShell's
    assert call["argv"][:3] == ["-NoProfile", "-NonInteractive", "-Command"]
    script = call["argv"][3]
    assert "Remove-Item" not in script and TRICKY_NAME not in script
    assert f"$env:{VM_NAME_VARIABLE}" in script
    assert "[WildcardPattern]::Escape" in script


@pytest_twisted.ensureDeferred
async def test_an_unknown_vm_name_is_a_clear_error(
    windows: FakeHyperV, powershell: FakePowerShell
) -> None:
    with pytest.raises(ValueError, match="no Hyper-V VM is named 'NoSuchVM'"):
        await HyperVClientEndpoint(reactor, "NoSuchVM", SERVICE).connect(Factory())


@pytest_twisted.ensureDeferred
async def test_two_vms_of_one_name_ask_for_the_vm_id(
    windows: FakeHyperV, powershell: FakePowerShell
) -> None:
    powershell.add_vm("Twin", uuid.uuid4())
    powershell.add_vm("twin", uuid.uuid4())
    with pytest.raises(ValueError, match="2 VMs are named 'Twin'"):
        await HyperVClientEndpoint(reactor, "Twin", SERVICE).connect(Factory())


@pytest_twisted.ensureDeferred
async def test_looking_up_a_vm_name_without_rights_says_administrator(
    windows: FakeHyperV, powershell: FakePowerShell
) -> None:
    powershell.add_vm("MyVM", uuid.uuid4())
    powershell.set(admin=False)
    with pytest.raises(HyperVAdminRequiredError, match="elevated Administrator"):
        await HyperVClientEndpoint(reactor, "MyVM", SERVICE).connect(Factory())


@pytest_twisted.ensureDeferred
async def test_looking_up_a_vm_name_without_hyperv_s_module_says_so(
    windows: FakeHyperV, powershell: FakePowerShell
) -> None:
    powershell.set(hyperv_module=False)
    with pytest.raises(HyperVUnavailableError, match="PowerShell module installed"):
        await HyperVClientEndpoint(reactor, "MyVM", SERVICE).connect(Factory())


@pytest_twisted.ensureDeferred
async def test_looking_up_a_vm_name_without_powershell_says_so(
    windows: FakeHyperV, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HyperVUnavailableError, match=POWERSHELL):
        await HyperVClientEndpoint(reactor, "MyVM", SERVICE).connect(Factory())
