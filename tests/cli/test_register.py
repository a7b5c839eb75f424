"""
``hvsock register``, ``unregister``, ``services`` and ``cat --register``,
run in-process against stand-ins for Windows' registry and socket layer.
"""

from __future__ import annotations

import uuid

import pytest
import pytest_twisted

from twisted_hvsock import hyperv_services
from twisted_hvsock._sockets import hyperv
from twisted_hvsock.hyperv_services import SERVICES_KEY

from ..support.fake_hyperv import FakeHyperV, FakeWinreg
from ..support.hvsock_cli import hvsock_in_process as hvsock

SERVICE = "3049197c-9a4e-4fbf-9367-97f792f16994"
TEMPLATE_80 = "00000050-facb-11e6-bd58-64006a7986d3"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeWinreg:
    fake = FakeWinreg()
    monkeypatch.setattr(hyperv_services, "_registry_module", fake)
    monkeypatch.setattr(hyperv, "_socket_module", FakeHyperV().module)
    return fake


@pytest_twisted.ensureDeferred
async def test_register_list_unregister(
    registry: FakeWinreg, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hvsock("register", "--name", "Web server", "80") == 0
    assert await hvsock("register", "-n", "Mine", SERVICE.upper()) == 0
    assert registry.values(f"{SERVICES_KEY}\\{TEMPLATE_80}") == {
        "ElementName": ("Web server", registry.REG_SZ)
    }
    capsys.readouterr()
    assert await hvsock("services") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SERVICE", "PORT", "NAME"]
    assert lines[1].split() == [TEMPLATE_80, "80", "Web", "server"]
    assert lines[2].split() == [SERVICE, "-", "Mine"]
    assert await hvsock("unregister", "80") == 0
    assert registry.values(f"{SERVICES_KEY}\\{TEMPLATE_80}") is None


@pytest_twisted.ensureDeferred
async def test_without_rights_register_fails_in_one_line(
    registry: FakeWinreg, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.admin = False
    assert await hvsock("register", "80") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("hvsock register: registering service ")
    assert "Administrator" in err


@pytest_twisted.ensureDeferred
async def test_cat_register_registers_before_connecting(
    registry: FakeWinreg, capsys: pytest.CaptureFixture[str]
) -> None:
    vm = uuid.uuid4()
    # Nothing listens, so cat fails to connect, after registering.
    assert await hvsock("cat", "--register", f"hvsock://{vm}/{SERVICE}") == 1
    assert registry.values(f"{SERVICES_KEY}\\{SERVICE}") == {
        "ElementName": ("hvsock cat", registry.REG_SZ)
    }
    assert "nothing listens on hvsock://" in capsys.readouterr().err


@pytest_twisted.ensureDeferred
async def test_cat_register_keeps_a_name_given_before(registry: FakeWinreg) -> None:
    assert await hvsock("register", "--name", "Mine", SERVICE) == 0
    await hvsock("cat", "--register", f"hvsock://{uuid.uuid4()}/{SERVICE}")
    assert registry.values(f"{SERVICES_KEY}\\{SERVICE}") == {
        "ElementName": ("Mine", registry.REG_SZ)
    }


@pytest_twisted.ensureDeferred
async def test_cat_register_is_for_hvsock_addresses(
    registry: FakeWinreg, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await hvsock("cat", "--register", "unix:/nonexistent") == 1
    assert "--register is for Hyper-V addresses" in capsys.readouterr().err
