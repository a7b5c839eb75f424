"""
``tests/vm/run`` and virtualenvs the guest would not see: /tmp, /run and
/dev/shm are fresh tmpfs mounts in the guest, so a virtualenv there is
shared read-only at the same path (tests/vm/README.md).

These run on the host; the last one boots the guest when a cached one can
run here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

import pytest

RUN = Path(__file__).with_name("run")


def load_run() -> ModuleType:
    """tests/vm/run as a module (it has no .py suffix)."""
    loader = SourceFileLoader("tests_vm_run", str(RUN))
    spec = spec_from_loader(loader.name, loader)
    assert spec is not None
    module = module_from_spec(spec)
    # Its dataclasses look their module up by name.
    sys.modules[loader.name] = module
    loader.exec_module(module)
    return module


run = load_run()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def venv_under_tmp() -> Iterator[Path]:
    """
    A virtualenv-like directory under /tmp (not $TMPDIR: /tmp is what the
    guest hides), with a program in bin/ that says where it runs.
    """
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="hvsock-venv-") as temp:
        venv = Path(temp).resolve()
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (venv / "bin").mkdir()
        hello = venv / "bin" / "hello-from-venv"
        hello.write_text('#!/bin/sh\necho "hello from $0"\n')
        hello.chmod(0o755)
        yield venv


def test_the_fresh_guest_mounts_hide_paths_outside_the_checkout() -> None:
    repo = Path("/tmp/checkout")
    assert run.hidden_in_guest(Path("/tmp/venv"), repo) == Path("/tmp")
    assert run.hidden_in_guest(Path("/run/user/0/venv"), repo) == Path("/run")
    assert run.hidden_in_guest(Path("/dev/shm/venv"), repo) == Path("/dev/shm")
    assert run.hidden_in_guest(Path("/home/me/venv"), repo) is None
    assert run.hidden_in_guest(Path("/tmp/checkout/.venv"), repo) is None
    assert run.hidden_in_guest(Path("/tmpfoo/venv"), repo) is None


def test_an_active_virtualenv_under_tmp_is_shared(venv_under_tmp: Path) -> None:
    environ = {"VIRTUAL_ENV": str(venv_under_tmp), "PATH": "/usr/bin:/bin"}
    assert run.hidden_virtualenvs(["twistd"], environ, REPO) == [venv_under_tmp]


def test_the_virtualenv_holding_the_program_is_shared(venv_under_tmp: Path) -> None:
    program = venv_under_tmp / "bin" / "hello-from-venv"
    environ = {"PATH": f"{venv_under_tmp / 'bin'}:/usr/bin:/bin"}
    assert run.hidden_virtualenvs([str(program)], environ, REPO) == [venv_under_tmp]
    assert run.hidden_virtualenvs([program.name], environ, REPO) == [venv_under_tmp]


def test_a_virtualenv_inside_the_checkout_is_not_shared(venv_under_tmp: Path) -> None:
    environ = {"VIRTUAL_ENV": str(venv_under_tmp), "PATH": "/usr/bin:/bin"}
    assert run.hidden_virtualenvs(["true"], environ, venv_under_tmp.parent) == []


def test_a_hidden_program_outside_a_virtualenv_is_named(
    venv_under_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (venv_under_tmp / "pyvenv.cfg").unlink()
    program = venv_under_tmp / "bin" / "hello-from-venv"
    assert run.hidden_virtualenvs([str(program)], {"PATH": "/bin"}, REPO) == []
    warning = capsys.readouterr().err
    assert f"the guest will not see {program}: its /tmp is an empty tmpfs" in warning


def test_each_shared_virtualenv_is_a_read_only_share(venv_under_tmp: Path) -> None:
    guest = run.Guest(kernel=Path("vmlinux"), initramfs=Path("initramfs.cpio"))
    command = run.qemu_command(
        guest, REPO, Path("/run-dir"), (5, 6), readonly_shares=[venv_under_tmp]
    )
    assert (
        f"local,id=venv0,path={venv_under_tmp},security_model=none,"
        "readonly=on,multidevs=remap"
    ) in command
    assert run.mounts_file([venv_under_tmp]) == f"venv0\t{venv_under_tmp}\n"


def cached_guest_can_boot() -> bool:
    """Whether the guest can boot here without installing or downloading."""
    return (
        run.unsupported_reason() is None
        and not run.missing_host_tools()
        and any(run.CACHE_DIR.glob("*/vmlinux"))
    )


@pytest.mark.skipif(
    not cached_guest_can_boot(), reason="no cached guest that can boot here"
)
def test_the_guest_runs_a_program_of_an_active_virtualenv_under_tmp(
    venv_under_tmp: Path,
) -> None:
    program = venv_under_tmp / "bin" / "hello-from-venv"
    environ = dict(
        os.environ,
        VIRTUAL_ENV=str(venv_under_tmp),
        PATH=f"{program.parent}:{os.defpath}",
    )
    result = subprocess.run(
        [str(RUN), "--timeout", "300", program.name],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"hello from {program}\n")
