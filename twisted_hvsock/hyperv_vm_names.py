"""
Looking up a Hyper-V VM's ID from its display name, on the Windows host.

The lookup runs Hyper-V's PowerShell module: ``(Get-VM -Name <name>).Id``.
The name travels as data, in an environment variable the fixed script reads
and escapes as a literal (not a wildcard pattern), never as part of the
command text, so no name can inject PowerShell code.
"""

from __future__ import annotations

import os
import subprocess
import uuid

from .errors import HyperVAdminRequiredError, HyperVUnavailableError

__all__ = ["LOOKUP_SCRIPT", "POWERSHELL", "VM_NAME_VARIABLE", "resolve_vm_name"]

#: The program run to look the name up.
POWERSHELL = "powershell.exe"
#: The environment variable that carries the name to the script.
VM_NAME_VARIABLE = "HVSOCK_VM_NAME"
# Exit statuses of the script, beyond 0 (found).
NOT_FOUND_STATUS = 2
NO_RIGHTS_STATUS = 3
#: The fixed script; the name is only ever read from the environment. Get-VM shows
# no VMs, rather than an error, to a user without the rights to manage them,
# so the script checks those rights first (Administrator in an elevated
# shell, or membership of Hyper-V Administrators, S-1-5-32-578).
LOOKUP_SCRIPT = (
    "$ErrorActionPreference = 'Stop'; "
    "$me = [Security.Principal.WindowsPrincipal]"
    "[Security.Principal.WindowsIdentity]::GetCurrent(); "
    "if (-not ($me.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)"
    " -or $me.IsInRole([Security.Principal.SecurityIdentifier]'S-1-5-32-578')))"
    f" {{ exit {NO_RIGHTS_STATUS} }}; "
    f"$vms = @(Get-VM -Name ([WildcardPattern]::Escape($env:{VM_NAME_VARIABLE}))"
    " -ErrorAction SilentlyContinue); "
    f"if ($vms.Count -eq 0) {{ exit {NOT_FOUND_STATUS} }}; "
    "$vms | ForEach-Object { $_.Id.Guid }"
)
_LOOKUP_TIMEOUT = 60


def resolve_vm_name(name: str, option: str = "vm") -> uuid.UUID:
    """
    The ID of the VM whose display name is ``name`` (blocks: call it from a
    thread, as :class:`~twisted_hvsock.hyperv_endpoints.HyperVClientEndpoint`
    does).

    :param option: the option the name came from, for the errors.
    :raises ValueError: naming ``option`` when no VM, or more than one, has
        that name.
    :raises HyperVAdminRequiredError: without the rights Get-VM needs.
    :raises HyperVUnavailableError: without PowerShell and Hyper-V.
    """
    command = [POWERSHELL, "-NoProfile", "-NonInteractive", "-Command", LOOKUP_SCRIPT]
    environment = {**os.environ, VM_NAME_VARIABLE: name}
    try:
        done = subprocess.run(
            command,
            env=environment,
            capture_output=True,
            # stdin may be the user's data (hvsock cat): PowerShell gets none.
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=_LOOKUP_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise HyperVUnavailableError(
            f"looking up the VM named {name!r} needs {POWERSHELL} with Hyper-V's "
            "module, on the Windows host; give the VM's ID instead "
            "((Get-VM -Name <name>).Id on the host)"
        ) from None
    except subprocess.TimeoutExpired:
        raise HyperVUnavailableError(
            f"looking up the VM named {name!r}: Get-VM gave no answer in "
            f"{_LOOKUP_TIMEOUT} s"
        ) from None
    ids = done.stdout.split()
    if done.returncode == NO_RIGHTS_STATUS:
        raise HyperVAdminRequiredError(
            f"looking up the VM named {name!r} needs an elevated Administrator "
            "shell or membership of Hyper-V Administrators; or give the VM's ID"
        )
    if done.returncode == NOT_FOUND_STATUS:
        raise ValueError(f"{option}: no Hyper-V VM is named {name!r}")
    if done.returncode == 0 and len(ids) > 1:
        raise ValueError(
            f"{option}: {len(ids)} VMs are named {name!r}; give the VM's ID instead"
        )
    if done.returncode == 0 and len(ids) == 1:
        try:
            return uuid.UUID(ids[0])
        except ValueError:
            pass
    problem = " ".join((done.stderr or done.stdout).split())
    raise HyperVUnavailableError(
        f"looking up the VM named {name!r} failed (exit {done.returncode}; is "
        f"Hyper-V's PowerShell module installed?): {problem}"
    )
