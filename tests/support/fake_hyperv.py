"""
Stand-ins for the Windows layers that Hyper-V sockets use, for a test suite
that runs on Linux: the socket module of Python 3.12+ on Windows (AF_HYPERV),
the registry module ``winreg``, and ``powershell.exe`` running ``Get-VM``.

They follow the documented interfaces byte for byte: address tuples of GUID
strings, checked as ``UuidFromStringW`` checks them and printed lower-case
as ``UuidToStringW`` prints them; listeners found by their ``SOCKADDR_HV``
bytes; Winsock's option levels, numbers, value types and error numbers;
registry paths, access rights and value types. Hyper-V sockets are blocking
and cannot be polled: ``fileno()`` names no real descriptor, and, as on
Windows, ``shutdown`` wakes no blocked call while ``close`` cancels them all.
Connected sockets carry their bytes over a real Unix socket pair.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import sys
import textwrap
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from twisted_hvsock.hyperv_vm_names import LOOKUP_SCRIPT

# Winsock error numbers.
WSAEINTR = 10004
WSAEFAULT = 10014
WSAEINVAL = 10022
WSAENOTSOCK = 10038
WSAEPROTOTYPE = 10041
WSAENOPROTOOPT = 10042
WSAESOCKTNOSUPPORT = 10044
WSAEAFNOSUPPORT = 10047
WSAEADDRINUSE = 10048
WSAECONNRESET = 10054
WSAENOTCONN = 10057
WSAESHUTDOWN = 10058
WSAETIMEDOUT = 10060
WSAECONNREFUSED = 10061
WSAENETUNREACH = 10051
WSAEHOSTUNREACH = 10065
WSAEACCES = 10013

AF_HYPERV = 34
HV_PROTOCOL_RAW = 1
HVSOCKET_CONNECT_TIMEOUT = 1
HVSOCKET_CONNECT_TIMEOUT_MAX = 300_000
HVSOCKET_CONNECTED_SUSPEND = 4
SOL_SOCKET = 0xFFFF  # Winsock's, not Linux's 1 (which is HV_PROTOCOL_RAW)
SO_LINGER = 0x0080

ZERO = uuid.UUID(int=0)
LOOPBACK = uuid.UUID("e0e16197-dd56-4a10-9195-5ee7a155a838")
_UUID_STRING = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


# Winsock errors that CPython's winerror_to_errno turns into C errno values.
_WINSOCK_AS_ERRNO = {10004, 10009, 10013, 10014, 10022, 10024}


def winsock_error(code: int, text: str) -> OSError:
    """
    A socket error as CPython on Windows raises it: five arguments
    ``(errno, strerror, None, winerror, None)``, ``errno`` mapped from the
    Winsock code, which ``winerror`` keeps.
    """
    mapped = code - 10000 if code in _WINSOCK_AS_ERRNO else code
    err = OSError(mapped, f"[WinError {code}] {text}", None, code, None)
    err.winerror = code  # type: ignore[attr-defined]
    return err


def sockaddr_hv(vm_id: uuid.UUID, service_id: uuid.UUID) -> bytes:
    """SOCKADDR_HV: u16 family, u16 reserved, GUID VmId, GUID ServiceId."""
    return struct.pack("<HH16s16s", AF_HYPERV, 0, vm_id.bytes_le, service_id.bytes_le)


def _guid_from_string(text: str, caller: str, field: str) -> uuid.UUID:
    # UuidFromStringW takes exactly 8-4-4-4-12 hex digits, no braces.
    if not _UUID_STRING.match(text):
        raise ValueError(
            f"{caller}(): AF_HYPERV address {field} is not a valid UUID string"
        )
    return uuid.UUID(text)


def _address(address: object, caller: str) -> tuple[uuid.UUID, uuid.UUID]:
    if not isinstance(address, tuple):
        raise TypeError(
            f"{caller}(): AF_HYPERV address must be tuple, not {type(address).__name__}"
        )
    if len(address) != 2 or not all(isinstance(part, str) for part in address):
        raise TypeError("AF_HYPERV address must be a str tuple (vm_id, service_id)")
    return (
        _guid_from_string(address[0], caller, "vm_id"),
        _guid_from_string(address[1], caller, "service_id"),
    )


def _as_tuple(vm_id: uuid.UUID, service_id: uuid.UUID) -> tuple[str, str]:
    return (str(vm_id), str(service_id))


class FakeHyperV:
    """
    One Windows host's Hyper-V socket layer, shared by the sockets its
    :attr:`module` makes.

    :ivar silent_vms: VMs whose connects get no answer: they block until
        ``HVSOCKET_CONNECT_TIMEOUT`` passes, or until the socket is closed.
    """

    def __init__(self) -> None:
        self.partition_id = uuid.uuid4()
        self.lock = threading.Lock()
        self.listeners: dict[bytes, FakeHyperVSocket] = {}
        self.silent_vms: set[uuid.UUID] = set()
        # Winsock errors that connects to a VM, or binds to a service, fail with.
        self.connect_errors: dict[uuid.UUID, int] = {}
        self.bind_errors: dict[uuid.UUID, int] = {}
        self.sockets: list[FakeHyperVSocket] = []
        self.module = FakeSocketModule(self)

    def find_listener(
        self, vm_id: uuid.UUID, service_id: uuid.UUID
    ) -> FakeHyperVSocket | None:
        candidates = [vm_id, ZERO]
        if vm_id == LOOPBACK:
            candidates.append(self.partition_id)
        if vm_id == self.partition_id:
            candidates.append(LOOPBACK)
        with self.lock:
            for candidate in candidates:
                listener = self.listeners.get(sockaddr_hv(candidate, service_id))
                if listener is not None:
                    return listener
        return None


class FakeSocketModule:
    """What ``socket`` offers for AF_HYPERV on Windows with Python 3.12+."""

    AF_HYPERV = AF_HYPERV
    SOCK_STREAM = 1
    HV_PROTOCOL_RAW = HV_PROTOCOL_RAW
    HVSOCKET_CONNECT_TIMEOUT = HVSOCKET_CONNECT_TIMEOUT
    HVSOCKET_CONNECT_TIMEOUT_MAX = HVSOCKET_CONNECT_TIMEOUT_MAX
    HVSOCKET_CONNECTED_SUSPEND = HVSOCKET_CONNECTED_SUSPEND
    HVSOCKET_ADDRESS_FLAG_PASSTHRU = 1
    HV_GUID_ZERO = "00000000-0000-0000-0000-000000000000"
    HV_GUID_WILDCARD = "00000000-0000-0000-0000-000000000000"
    HV_GUID_BROADCAST = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"
    HV_GUID_CHILDREN = "90DB8B89-0D35-4F79-8CE9-49EA0AC8B7CD"
    HV_GUID_LOOPBACK = "E0E16197-DD56-4A10-9195-5EE7A155A838"
    HV_GUID_PARENT = "A42E7CDA-D03F-480C-9CC2-A4DE20ABB878"
    SOL_SOCKET = SOL_SOCKET
    SO_LINGER = SO_LINGER
    SHUT_RD = 0
    SHUT_WR = 1
    SHUT_RDWR = 2
    error = OSError
    timeout = TimeoutError

    def __init__(self, hyperv: FakeHyperV) -> None:
        self._hyperv = hyperv

    def socket(
        self, family: int = 2, type: int = 1, proto: int = 0
    ) -> FakeHyperVSocket:
        if family != AF_HYPERV:
            raise winsock_error(WSAEAFNOSUPPORT, "address family not supported")
        if type != self.SOCK_STREAM:
            raise winsock_error(WSAESOCKTNOSUPPORT, "socket type not supported")
        if proto != HV_PROTOCOL_RAW:
            raise winsock_error(WSAEPROTOTYPE, "wrong protocol type for socket")
        skt = FakeHyperVSocket(self._hyperv)
        with self._hyperv.lock:
            self._hyperv.sockets.append(skt)
        return skt


class FakeHyperVSocket:
    """A blocking AF_HYPERV stream socket."""

    family = AF_HYPERV
    type = 1
    proto = HV_PROTOCOL_RAW
    _handles = iter(range(0x7000_0000, 0x7FFF_FFFF, 4))

    def __init__(self, hyperv: FakeHyperV) -> None:
        self._hyperv = hyperv
        self._lock = threading.Condition()
        self.state = "new"
        self.closed = False
        self.blocking = True
        self.options: dict[tuple[int, int], Any] = {}
        self.shut_read = False
        self.shut_write = False
        self._local: tuple[uuid.UUID, uuid.UUID] | None = None
        self._peer: tuple[uuid.UUID, uuid.UUID] | None = None
        self._key: bytes | None = None
        self._pending: deque[FakeHyperVSocket] = deque()
        self._pipe: socket.socket | None = None
        self._handle = next(self._handles)

    # What Python's socket objects offer.

    def fileno(self) -> int:
        return self._handle  # a SOCKET handle: no descriptor to poll

    def setblocking(self, flag: bool) -> None:
        self.blocking = bool(flag)

    def settimeout(self, value: float | None) -> None:
        self.blocking = value is None

    def _check_open(self) -> None:
        if self.closed:
            raise winsock_error(WSAENOTSOCK, "an operation on something not a socket")

    def setsockopt(self, level: int, option: int, value: Any) -> None:
        self._check_open()
        if level == HV_PROTOCOL_RAW and option in (
            HVSOCKET_CONNECT_TIMEOUT,
            HVSOCKET_CONNECTED_SUSPEND,
        ):
            if not isinstance(value, int):
                raise winsock_error(WSAEFAULT, "a ULONG is expected")
            if option == HVSOCKET_CONNECT_TIMEOUT and not (
                0 <= value <= HVSOCKET_CONNECT_TIMEOUT_MAX
            ):
                raise winsock_error(WSAEINVAL, "an invalid argument was supplied")
        elif level == SOL_SOCKET and option == SO_LINGER:
            # struct linger { u_short l_onoff; u_short l_linger; }
            if not isinstance(value, bytes) or len(value) != 4:
                raise winsock_error(WSAEFAULT, "a struct linger is expected")
        else:
            raise winsock_error(WSAENOPROTOOPT, "bad protocol option")
        self.options[(level, option)] = value

    def getsockopt(self, level: int, option: int, buflen: int = 0) -> Any:
        self._check_open()
        return self.options.get((level, option), 0)

    def bind(self, address: object) -> None:
        self._check_open()
        vm_id, service_id = _address(address, "bind")
        key = sockaddr_hv(vm_id, service_id)
        if service_id in self._hyperv.bind_errors:
            raise winsock_error(self._hyperv.bind_errors[service_id], "bind failed")
        with self._hyperv.lock:
            if key in self._hyperv.listeners:
                raise winsock_error(WSAEADDRINUSE, "address already in use")
        self._local = (vm_id, service_id)
        self._key = key
        self.state = "bound"

    def listen(self, backlog: int = 0) -> None:
        self._check_open()
        if self.state != "bound" or self._key is None:
            raise winsock_error(WSAEINVAL, "an invalid argument was supplied")
        with self._hyperv.lock:
            if self._key in self._hyperv.listeners:
                raise winsock_error(WSAEADDRINUSE, "address already in use")
            self._hyperv.listeners[self._key] = self
        self.state = "listening"

    def accept(self) -> tuple[FakeHyperVSocket, tuple[str, str]]:
        self._check_open()
        if self.state != "listening":
            raise winsock_error(WSAEINVAL, "an invalid argument was supplied")
        with self._lock:
            while not self._pending and not self.closed:
                self._lock.wait()
            if self.closed:
                raise winsock_error(WSAEINTR, "a blocking operation was interrupted")
            accepted = self._pending.popleft()
        assert accepted._peer is not None
        return accepted, _as_tuple(*accepted._peer)

    def _queue(self, accepted: FakeHyperVSocket) -> bool:
        with self._lock:
            if self.closed:
                return False
            self._pending.append(accepted)
            self._lock.notify_all()
            return True

    def connect(self, address: object) -> None:
        self._check_open()
        vm_id, service_id = _address(address, "connect")
        if self.state == "connected":
            raise winsock_error(10056, "the socket is already connected")
        if vm_id in self._hyperv.silent_vms:
            self._wait_for_connect_timeout()
        if vm_id in self._hyperv.connect_errors:
            raise winsock_error(self._hyperv.connect_errors[vm_id], "connect failed")
        listener = self._hyperv.find_listener(vm_id, service_id)
        if listener is None:
            raise winsock_error(WSAECONNREFUSED, "the target machine refused it")
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        accepted = FakeHyperVSocket(self._hyperv)
        accepted._pipe = theirs
        accepted.state = "connected"
        accepted._local = (vm_id, service_id)
        self._local = (self._hyperv.partition_id, uuid.uuid4())
        accepted._peer = self._local
        with self._hyperv.lock:
            self._hyperv.sockets.append(accepted)
        if not listener._queue(accepted):
            theirs.close()
            mine.close()
            raise winsock_error(WSAECONNREFUSED, "the target machine refused it")
        with self._lock:
            if self.closed:
                mine.close()
                raise winsock_error(WSAEINTR, "a blocking operation was interrupted")
            self._pipe = mine
            self._peer = (vm_id, service_id)
            self.state = "connected"

    def _wait_for_connect_timeout(self) -> None:
        milliseconds = self.options.get((HV_PROTOCOL_RAW, HVSOCKET_CONNECT_TIMEOUT))
        deadline = (
            None if milliseconds is None else time.monotonic() + milliseconds / 1000
        )
        with self._lock:
            while not self.closed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise winsock_error(
                        WSAETIMEDOUT, "the connection attempt timed out"
                    )
                self._lock.wait(left)
        raise winsock_error(WSAEINTR, "a blocking operation was interrupted")

    def _connected_pipe(self) -> socket.socket:
        self._check_open()
        if self.state != "connected" or self._pipe is None:
            raise winsock_error(WSAENOTCONN, "the socket is not connected")
        return self._pipe

    def recv(self, size: int) -> bytes:
        pipe = self._connected_pipe()
        try:
            data = pipe.recv(size)
        except OSError:
            data = b""
        if self.closed:
            raise winsock_error(WSAEINTR, "a blocking operation was interrupted")
        return data

    def send(self, data: bytes | memoryview) -> int:
        pipe = self._connected_pipe()
        if self.shut_write:
            raise winsock_error(WSAESHUTDOWN, "the socket has been shut down")
        try:
            return pipe.send(data)
        except OSError:
            if self.closed:
                raise winsock_error(
                    WSAEINTR, "a blocking operation was interrupted"
                ) from None
            raise winsock_error(WSAECONNRESET, "the connection was reset") from None

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self.send(view) :]

    def shutdown(self, how: int) -> None:
        pipe = self._connected_pipe()
        # As on Windows, shutting down the receive side does not wake a
        # thread blocked in recv; only the send side reaches the peer.
        if how in (1, 2):
            self.shut_write = True
            pipe.shutdown(socket.SHUT_WR)
        if how in (0, 2):
            self.shut_read = True

    def getsockname(self) -> tuple[str, str]:
        self._check_open()
        if self._local is None:
            raise winsock_error(WSAEINVAL, "an invalid argument was supplied")
        return _as_tuple(*self._local)

    def getpeername(self) -> tuple[str, str]:
        self._check_open()
        if self._peer is None:
            raise winsock_error(WSAENOTCONN, "the socket is not connected")
        return _as_tuple(*self._peer)

    def close(self) -> None:
        # closesocket: cancels the calls blocked on this socket in every
        # thread, then releases it; the peer sees the stream end.
        with self._lock:
            if self.closed:
                return
            self.closed = True
            pending, self._pending = list(self._pending), deque()
            self._lock.notify_all()
        if self.state == "listening":
            with self._hyperv.lock:
                if self._hyperv.listeners.get(self._key or b"") is self:
                    del self._hyperv.listeners[self._key or b""]
        for accepted in pending:
            accepted.close()
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.shutdown(socket.SHUT_RDWR)
            self._pipe.close()

    def detach(self) -> int:
        raise NotImplementedError("not used with Hyper-V sockets")

    @property
    def linger_zero(self) -> bool:
        return self.options.get((SOL_SOCKET, SO_LINGER)) == struct.pack("<HH", 1, 0)


# The registry.


class FakeRegistryKey:
    """An open registry key handle, as ``winreg`` returns (``PyHKEY``)."""

    def __init__(self, path: tuple[str, ...], access: int) -> None:
        self.path = path
        self.access = access
        self.closed = False

    def __enter__(self) -> FakeRegistryKey:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.Close()

    def Close(self) -> None:
        self.closed = True


class FakeWinreg:
    """
    What ``winreg`` offers, over an in-memory ``HKEY_LOCAL_MACHINE``. Keys
    are case-insensitive and keep the case they were created with; without
    Administrator rights, opening for writing or creating fails as Windows
    does, with ``PermissionError`` (winerror 5).
    """

    HKEY_LOCAL_MACHINE = 0x80000002
    KEY_QUERY_VALUE = 0x0001
    KEY_SET_VALUE = 0x0002
    KEY_CREATE_SUB_KEY = 0x0004
    KEY_ENUMERATE_SUB_KEYS = 0x0008
    KEY_READ = 0x20019
    KEY_WRITE = 0x20006
    KEY_ALL_ACCESS = 0xF003F
    KEY_WOW64_64KEY = 0x0100
    REG_SZ = 1
    REG_DWORD = 4

    def __init__(self, admin: bool = True) -> None:
        self.admin = admin
        # lower-cased path -> (the path as created, {value name: (value, type)})
        self.keys: dict[tuple[str, ...], tuple[tuple[str, ...], dict[str, Any]]] = {}
        self.accesses: list[int] = []

    def _path(self, key: Any, sub_key: str) -> tuple[str, ...]:
        base: tuple[str, ...]
        if key == self.HKEY_LOCAL_MACHINE:
            base = ("HKEY_LOCAL_MACHINE",)
        elif isinstance(key, FakeRegistryKey):
            if key.closed:
                raise OSError(22, "The handle is invalid", None, 6)
            base = key.path
        else:
            raise TypeError(f"the key must be a PyHKEY or a root key, not {key!r}")
        return base + tuple(part for part in sub_key.split("\\") if part)

    @staticmethod
    def _lower(path: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(part.lower() for part in path)

    def _denied(self) -> PermissionError:
        return PermissionError(13, "Access is denied", None, 5)

    def _missing(self) -> FileNotFoundError:
        return FileNotFoundError(
            2, "The system cannot find the file specified", None, 2
        )

    def _writes(self, access: int) -> bool:
        return bool(access & (self.KEY_SET_VALUE | self.KEY_CREATE_SUB_KEY))

    def put(self, path: str, values: dict[str, Any]) -> None:
        """Set up a key with values, as an administrator once did."""
        full = ("HKEY_LOCAL_MACHINE", *path.split("\\"))
        for end in range(2, len(full) + 1):
            self.keys.setdefault(self._lower(full[:end]), (full[:end], {}))
        self.keys[self._lower(full)][1].update(values)

    def OpenKey(
        self, key: Any, sub_key: str, reserved: int = 0, access: int = 0x20019
    ) -> FakeRegistryKey:
        path = self._path(key, sub_key)
        self.accesses.append(access)
        if self._lower(path) not in self.keys:
            raise self._missing()
        if self._writes(access) and not self.admin:
            raise self._denied()
        return FakeRegistryKey(self.keys[self._lower(path)][0], access)

    def CreateKeyEx(
        self, key: Any, sub_key: str, reserved: int = 0, access: int = 0x20006
    ) -> FakeRegistryKey:
        path = self._path(key, sub_key)
        self.accesses.append(access)
        if not self.admin:
            raise self._denied()
        for end in range(2, len(path) + 1):
            self.keys.setdefault(self._lower(path[:end]), (path[:end], {}))
        return FakeRegistryKey(self.keys[self._lower(path)][0], access)

    def SetValueEx(
        self,
        key: FakeRegistryKey,
        value_name: str,
        reserved: int,
        type: int,
        value: Any,
    ) -> None:
        if not key.access & self.KEY_SET_VALUE:
            raise self._denied()
        if type == self.REG_SZ and not isinstance(value, str):
            raise ValueError("Could not convert the data to the specified type.")
        self.keys[self._lower(key.path)][1][value_name] = (value, type)

    def QueryValueEx(self, key: FakeRegistryKey, value_name: str) -> tuple[Any, int]:
        values = self.keys[self._lower(key.path)][1]
        if value_name not in values:
            raise self._missing()
        value, kind = values[value_name]
        return value, kind

    def EnumKey(self, key: FakeRegistryKey, index: int) -> str:
        depth = len(key.path) + 1
        children = sorted(
            shown[-1]
            for lowered, (shown, _) in self.keys.items()
            if len(lowered) == depth and lowered[:-1] == self._lower(key.path)
        )
        if index >= len(children):
            raise OSError(22, "No more data is available", None, 259)
        return children[index]

    def DeleteKey(self, key: FakeRegistryKey, sub_key: str) -> None:
        path = self._lower(self._path(key, sub_key))
        if path not in self.keys:
            raise self._missing()
        if not self.admin:
            raise self._denied()
        if any(
            len(other) > len(path) and other[: len(path)] == path for other in self.keys
        ):
            raise self._denied()  # RegDeleteKey refuses a key with subkeys
        del self.keys[path]

    def DeleteKeyEx(
        self,
        key: FakeRegistryKey,
        sub_key: str,
        access: int = 0x0100,
        reserved: int = 0,
    ) -> None:
        self.accesses.append(access)
        self.DeleteKey(key, sub_key)

    def CloseKey(self, key: FakeRegistryKey) -> None:
        key.Close()

    def values(self, path: str) -> dict[str, Any] | None:
        """A key's values, or ``None`` when it does not exist."""
        entry = self.keys.get(self._lower(("HKEY_LOCAL_MACHINE", *path.split("\\"))))
        return None if entry is None else dict(entry[1])


# PowerShell.

_FAKE_POWERSHELL = textwrap.dedent(
    """\
    #!{python}
    # Plays powershell.exe running twisted-hvsock's Get-VM lookup script: the
    # VMs, the caller's rights and whether Hyper-V's module is there come
    # from {state}; each call is logged there too.
    import json, os, sys
    state_path = {state!r}
    with open(state_path) as f:
        state = json.load(f)
    name = os.environ.get("HVSOCK_VM_NAME")
    stdin_is_devnull = os.path.samestat(os.fstat(0), os.stat(os.devnull))
    state["calls"].append(
        {{"argv": sys.argv[1:], "name": name, "stdin_is_devnull": stdin_is_devnull}}
    )
    with open(state_path, "w") as f:
        json.dump(state, f)
    if sys.argv[1:] != ["-NoProfile", "-NonInteractive", "-Command", state["script"]]:
        sys.exit("not the lookup script this stand-in plays")
    if not state["hyperv_module"]:
        sys.stderr.write(
            "Get-VM : The term 'Get-VM' is not recognized as the name of a "
            "cmdlet, function, script file, or operable program.\\n"
        )
        sys.exit(1)
    if not state["admin"]:
        sys.exit(3)  # the script's own check of the caller's rights
    wanted = (name or "").lower()
    ids = [vm_id for vm_name, vm_id in state["vms"] if vm_name.lower() == wanted]
    if not ids:
        sys.exit(2)
    for vm_id in ids:
        print(vm_id)
    """
)


class FakePowerShell:
    """A ``powershell.exe`` on ``PATH`` that answers ``Get-VM`` from a table."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state = directory / "hyperv-state.json"
        self._write(
            {
                "admin": True,
                "hyperv_module": True,
                "vms": [],
                "calls": [],
                "script": LOOKUP_SCRIPT,
            }
        )
        program = directory / "powershell.exe"
        program.write_text(
            _FAKE_POWERSHELL.format(python=sys.executable, state=str(self.state))
        )
        program.chmod(0o755)

    def _read(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state.read_text())
        return state

    def _write(self, state: dict[str, Any]) -> None:
        self.state.write_text(json.dumps(state))

    def add_vm(self, name: str, vm_id: uuid.UUID) -> None:
        state = self._read()
        state["vms"].append([name, str(vm_id)])
        self._write(state)

    def set(self, **settings: bool) -> None:
        """Change ``admin`` or ``hyperv_module``."""
        state = self._read()
        state.update(settings)
        self._write(state)

    @property
    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._read()["calls"]
        return calls
