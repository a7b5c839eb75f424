"""
Looking up a VM's CID from its name, on a Linux host.

Two managers of VMs know the CIDs of the VMs they run, and each has a
command that tells: libvirt (``virsh dumpxml``: the ``<vsock>`` device's
``<cid address='3'/>``) and systemd-machined (``machinectl show
--property=VSockCID``, systemd 256 and later, for the VMs systemd-vmspawn and
other VMMs register). A name is asked of each whose command is installed, in
that order, unless the caller chooses one (``resolver``).

The commands get the name as an argument of its own, never through a shell,
and behind ``--domain=`` or ``--``, so that a name starting with ``-`` is
not read as an option; virsh connects read-only. They run in the C locale
(their messages are matched), with no input, for at most a timeout each.
Every function here blocks: call it from a thread, as
:class:`~twisted_hvsock.vsock.VSockClientEndpoint` does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args
from xml.etree import ElementTree

from .address import CID_ANY
from .errors import VMLookupError

__all__ = [
    "LOOKUP_TIMEOUT",
    "MACHINECTL",
    "RESOLVERS",
    "VIRSH",
    "LinuxVM",
    "Resolver",
    "check_resolver",
    "check_vm_name",
    "list_vms",
    "resolve_vm_cid",
]

#: Who is asked for a VM's CID: libvirt or systemd-machined.
Resolver = Literal["libvirt", "machined"]
#: Every resolver, in the order they are asked when none is chosen.
RESOLVERS: tuple[Resolver, ...] = get_args(Resolver)
#: libvirt's command.
VIRSH = "virsh"
#: systemd-machined's command.
MACHINECTL = "machinectl"
#: Seconds each command may take before the lookup gives up on it.
LOOKUP_TIMEOUT = 10.0

_PROGRAMS: dict[Resolver, str] = {"libvirt": VIRSH, "machined": MACHINECTL}
# What virsh says of a name it does not know (virsh-util.c), and machinectl
# (machined's NoSuchMachine error, after machinectl's own words).
_VIRSH_UNKNOWN = "failed to get domain"
_MACHINED_UNKNOWN = "No machine '"
# libvirt's own ssh proxy looks in the system connection, then (not as root)
# the user's session; LIBVIRT_DEFAULT_URI, when set, is the only one.
_SYSTEM_URI = "qemu:///system"
_SESSION_URI = "qemu:///session"


@dataclass(frozen=True)
class LinuxVM:
    """
    A VM one of the managers knows.

    :ivar name: its name, as ``vm=`` takes it.
    :ivar resolver: the manager that knows it.
    :ivar cid: its CID, or ``None`` when it has none now (:attr:`state`
        says why).
    :ivar state: ``"running"``, or why it has no CID (``"not running"``,
        ``"no vsock device"``).
    """

    name: str
    resolver: Resolver
    cid: int | None
    state: str


@dataclass(frozen=True)
class _Answer:
    """What one manager said of one name."""

    # found: the CID; known: the VM, but no CID (not running, no vsock
    # device); unknown: no such VM; failed: the command failed or hung;
    # missing: the command is not installed.
    kind: Literal["found", "known", "unknown", "failed", "missing"]
    said: str
    cid: int | None = None


def check_vm_name(name: object, option: str = "vm") -> str:
    """
    Check a VM's name: any text but empty or with a NUL (which no command
    argument can carry).

    :raises ValueError: naming ``option``.
    """
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise ValueError(f"{option} must be a VM's name, got {name!r}")
    return name


def check_resolver(resolver: object, option: str = "resolver") -> Resolver | None:
    """
    Check a ``resolver``: ``None`` (each in turn) or one of :data:`RESOLVERS`.

    :raises ValueError: naming ``option`` and the accepted values.
    """
    for known in RESOLVERS:
        if resolver == known:
            return known
    if resolver is None:
        return None
    raise ValueError(f"{option} must be {' or '.join(RESOLVERS)}, got {resolver!r}")


def resolve_vm_cid(
    name: str,
    option: str = "vm",
    resolver: Resolver | None = None,
    timeout: float = LOOKUP_TIMEOUT,
) -> int:
    """
    The CID of the running VM named ``name`` (blocks: call it from a
    thread).

    :param option: the option the name came from, for the errors.
    :param resolver: ask only this manager; by default libvirt, then
        systemd-machined, each if its command is installed.
    :param timeout: seconds each command may take.
    :raises ValueError: naming ``option``, when no VM has that name, or the
        VM is not running or has no vsock device; the message says what
        each manager said.
    :raises VMLookupError: when no manager's command is installed, or one
        failed or hung and none found the VM.
    """
    check_vm_name(name, option)
    answers = []
    for each in _chosen(resolver):
        answer = _ASK[each](name, timeout)
        if answer.kind == "found" and answer.cid is not None:
            return answer.cid
        answers.append(answer)
    heard = "; ".join(a.said for a in answers if a.kind != "missing")
    known = [a for a in answers if a.kind == "known"]
    if known:
        raise ValueError(f"{option}: {known[0].said}")
    if any(a.kind == "failed" for a in answers):
        raise VMLookupError(
            f"{option}: looking up the VM named {name!r} failed: {heard}"
        )
    if heard:
        raise ValueError(
            f"{option}: no VM named {name!r} is known ({heard}); "
            "'hvsock vms' lists the VMs and their CIDs"
        )
    raise VMLookupError(_none_installed(option, name, resolver))


def list_vms(
    resolver: Resolver | None = None, timeout: float = LOOKUP_TIMEOUT
) -> list[LinuxVM]:
    """
    Every VM the managers know, with its CID where it has one (blocks).

    :param resolver: ask only this manager; by default each whose command
        is installed.
    :param timeout: seconds each command may take.
    :return: libvirt's domains (running or not), then systemd-machined's
        running VMs, each manager's sorted by name.
    :raises VMLookupError: when no manager's command is installed, or one
        that is installed fails or hangs.
    """
    vms: list[LinuxVM] = []
    asked = False
    for each in _chosen(resolver):
        listed = _LIST[each](timeout)
        if listed is not None:
            asked = True
            vms.extend(sorted(listed, key=lambda vm: vm.name))
    if not asked:
        raise VMLookupError(_none_installed("", "", resolver))
    return vms


def _chosen(resolver: Resolver | None) -> tuple[Resolver, ...]:
    chosen = check_resolver(resolver)
    return RESOLVERS if chosen is None else (chosen,)


def _none_installed(option: str, name: str, resolver: Resolver | None) -> str:
    programs = " or ".join(f"{_PROGRAMS[r]} ({r})" for r in _chosen(resolver))
    needs = f"needs {programs} on this Linux host, and none is on PATH"
    if not name:
        return f"listing VMs {needs}"
    return (
        f"{option}: looking up the VM named {name!r} {needs}; give the VM's CID instead"
    )


# Running the commands.


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """
    Run a manager's command: no shell, no input (stdin may be the user's
    data, as in ``hvsock cat``), the C locale.

    :raises FileNotFoundError: when it is not installed.
    :raises subprocess.TimeoutExpired: after ``timeout`` seconds, the
        command killed.
    """
    return subprocess.run(
        list(argv),
        env={**os.environ, "LC_ALL": "C"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def _said(program: str, done: subprocess.CompletedProcess[str]) -> str:
    """What a command printed when it failed, on one line."""
    words = " ".join((done.stderr or done.stdout).split())
    return f"{program}: {words or f'exit status {done.returncode}'}"


def _asked(
    argv: Sequence[str], timeout: float
) -> subprocess.CompletedProcess[str] | _Answer:
    """The command's result, or the answer for a command that did not run."""
    program = argv[0]
    try:
        return _run(argv, timeout)
    except FileNotFoundError:
        return _Answer("missing", f"{program}: not installed")
    except subprocess.TimeoutExpired:
        return _Answer("failed", f"{program}: gave no answer in {timeout:g} s")
    except OSError as e:
        return _Answer("failed", f"{program}: {e.strerror or e}")


# libvirt.


def _libvirt_connections() -> list[list[str]]:
    """The ``--connect`` options of the connections asked, in order."""
    if os.environ.get("LIBVIRT_DEFAULT_URI"):
        return [[]]
    uris = [_SYSTEM_URI] if os.geteuid() == 0 else [_SYSTEM_URI, _SESSION_URI]
    return [["--connect", uri] for uri in uris]


def _virsh(connection: list[str], *command: str) -> list[str]:
    return [VIRSH, "--readonly", *connection, *command]


def _ask_libvirt(name: str, timeout: float) -> _Answer:
    answers = []
    for connection in _libvirt_connections():
        answer = _domain(connection, name, timeout)
        if answer.kind in ("found", "known", "missing"):
            return answer
        answers.append(answer)
    failed = [a for a in answers if a.kind == "failed"]
    said = "; ".join(a.said for a in answers)
    return _Answer("failed" if failed else "unknown", said)


def _domain(connection: list[str], name: str, timeout: float) -> _Answer:
    """What one libvirt connection says of the domain ``name``."""
    # --domain=NAME: the whole argument is the name, whatever it starts with.
    done = _asked(_virsh(connection, "dumpxml", f"--domain={name}"), timeout)
    if isinstance(done, _Answer):
        return done
    if done.returncode == 0:
        return _domain_answer(name, done.stdout)
    kind: Literal["unknown", "failed"] = (
        "unknown" if _VIRSH_UNKNOWN in done.stderr else "failed"
    )
    return _Answer(kind, _said(_where(connection), done))


def _where(connection: list[str]) -> str:
    return " ".join([VIRSH, *connection])


def _domain_answer(name: str, xml: str) -> _Answer:
    """What a domain's XML (``virsh dumpxml``) says of its CID."""
    try:
        domain = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return _Answer("failed", f"{VIRSH}: printed no domain XML for {name!r}")
    # Only a running domain has an id, and an automatic CID an address.
    running = domain.get("id") is not None
    cid = domain.find("devices/vsock/cid")
    if domain.find("devices/vsock") is None:
        return _Answer(
            "known",
            f"the libvirt domain {name!r} has no vsock device; add "
            "<vsock model='virtio'><cid auto='yes'/></vsock> to its <devices>",
        )
    if not running:
        return _Answer(
            "known",
            f"the libvirt domain {name!r} is not running, so it has no CID; "
            f"start it first (virsh start {name})",
        )
    address = None if cid is None else cid.get("address", "")
    if address is None or not address.isdigit():
        return _Answer("failed", f"{VIRSH}: the vsock device of {name!r} shows no CID")
    return _Answer("found", f"{VIRSH}: CID {address}", int(address))


def _list_libvirt(timeout: float) -> list[LinuxVM] | None:
    vms: dict[str, LinuxVM] = {}
    problems = []
    worked = False
    for connection in _libvirt_connections():
        done = _asked(_virsh(connection, "list", "--all", "--name"), timeout)
        if isinstance(done, _Answer):
            if done.kind == "missing":
                return None
            problems.append(done.said)
            continue
        if done.returncode != 0:
            problems.append(_said(_where(connection), done))
            continue
        worked = True
        # One name a line, then the empty line virsh ends every command with.
        for name in (n for n in done.stdout.splitlines() if n and n not in vms):
            vm = _libvirt_vm(connection, name, timeout)
            if vm is not None:
                vms[name] = vm
    if not worked:
        raise VMLookupError(f"listing libvirt's VMs failed: {'; '.join(problems)}")
    return list(vms.values())


def _libvirt_vm(connection: list[str], name: str, timeout: float) -> LinuxVM | None:
    """A listed domain, or ``None`` if it went away since it was listed."""
    answer = _domain(connection, name, timeout)
    if answer.kind == "found":
        return LinuxVM(name, "libvirt", answer.cid, "running")
    if answer.kind == "known":
        state = "no vsock device" if "no vsock" in answer.said else "not running"
        return LinuxVM(name, "libvirt", None, state)
    if answer.kind == "unknown":
        return None
    raise VMLookupError(f"listing libvirt's VMs failed: {answer.said}")


# systemd-machined.


def _machinectl(*command: str) -> list[str]:
    return [MACHINECTL, "--no-pager", *command]


def _vsock_cid_of(name: str, timeout: float) -> _Answer:
    # "--" ends the options: the name is the machine, whatever it starts with.
    argv = _machinectl("show", "--property=VSockCID", "--value", "--", name)
    done = _asked(argv, timeout)
    if isinstance(done, _Answer):
        return done
    if done.returncode != 0:
        unknown = _MACHINED_UNKNOWN in done.stderr
        return _Answer("unknown" if unknown else "failed", _said(MACHINECTL, done))
    value = done.stdout.strip()
    if not value:
        return _Answer(
            "failed",
            f"{MACHINECTL}: no VSockCID property: systemd older than 256 does "
            "not know the CIDs of VMs",
        )
    if not value.isdigit():
        return _Answer("failed", f"{MACHINECTL}: VSockCID is {value!r}, not a CID")
    if int(value) == CID_ANY:
        return _Answer(
            "known",
            f"the machine {name!r} registered with systemd-machined has no vsock "
            "CID (a container, or a VM without a vsock device)",
        )
    return _Answer("found", f"{MACHINECTL}: CID {value}", int(value))


def _ask_machined(name: str, timeout: float) -> _Answer:
    answer = _vsock_cid_of(name, timeout)
    if answer.kind == "unknown":
        # machined forgets a machine when it stops.
        return _Answer("unknown", f"{answer.said} (machined knows running VMs only)")
    return answer


def _list_machined(timeout: float) -> list[LinuxVM] | None:
    done = _asked(_machinectl("list", "--no-legend"), timeout)
    if isinstance(done, _Answer):
        if done.kind == "missing":
            return None
        raise VMLookupError(f"listing systemd-machined's VMs failed: {done.said}")
    if done.returncode != 0:
        raise VMLookupError(
            f"listing systemd-machined's VMs failed: {_said(MACHINECTL, done)}"
        )
    vms = []
    # MACHINE CLASS SERVICE OS VERSION ADDRESSES; machine names have no spaces.
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[1] != "vm":
            continue
        answer = _vsock_cid_of(fields[0], timeout)
        if answer.kind == "failed":
            raise VMLookupError(f"listing systemd-machined's VMs failed: {answer.said}")
        if answer.kind == "found":
            vms.append(LinuxVM(fields[0], "machined", answer.cid, "running"))
        elif answer.kind == "known":
            vms.append(LinuxVM(fields[0], "machined", None, "no vsock device"))
    return vms


# Each resolver's questions, by name.
_ASK: dict[Resolver, Callable[[str, float], _Answer]] = {
    "libvirt": _ask_libvirt,
    "machined": _ask_machined,
}
_LIST: dict[Resolver, Callable[[float], list[LinuxVM] | None]] = {
    "libvirt": _list_libvirt,
    "machined": _list_machined,
}
