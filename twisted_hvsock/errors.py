"""
Exceptions raised by twisted-hvsock beyond Twisted's own.
"""

from __future__ import annotations

from twisted.internet.error import ConnectError

__all__ = [
    "HyperVAdminRequiredError",
    "HyperVUnavailableError",
    "MessageTooLongError",
    "MissingDependencyError",
    "VMLookupError",
    "VSockUnavailableError",
    "WaitTimeoutError",
]


class VSockUnavailableError(OSError):
    """
    This machine cannot make AF_VSOCK sockets; the message says what is
    missing and how to get it.
    """


class HyperVUnavailableError(OSError):
    """
    This machine cannot make Hyper-V sockets (AF_HYPERV, or AF_VSOCK inside
    a Linux guest); the message says what is needed.
    """


class HyperVAdminRequiredError(PermissionError):
    """
    The operation needs Administrator rights (or membership of the Hyper-V
    Administrators group) on the Windows host.
    """


class VMLookupError(OSError):
    """
    A VM's name could not be looked up on this Linux host: neither libvirt's
    ``virsh`` nor systemd's ``machinectl`` is installed, or the one asked
    failed or gave no answer in time; the message says which and what it
    printed. (A name no VM has, a VM that is not running or one without a
    vsock device is a ``ValueError`` naming the option instead.)
    """


class MissingDependencyError(ImportError):
    """
    A feature needs an optional dependency that is not installed; the
    message names the extra that brings it (``pip install
    'twisted-hvsock[tls]'``).
    """


class MessageTooLongError(ValueError):
    """
    A message is longer than a ``type=seqpacket`` connection can carry: the
    kernel takes no message longer than either side's vsock buffer
    (``SO_VM_SOCKETS_BUFFER_SIZE``, 256 KiB unless set).

    ``transport.write`` raises it for a message longer than this side's
    buffer; a message longer than only the peer's is refused by the kernel
    when it is sent, and the connection is closed with this error as the
    reason.

    :ivar size: the message's length in bytes.
    :ivar limit: this side's buffer in bytes.
    :ivar peer: whether the peer's buffer was the one too small.
    """

    def __init__(self, size: int, limit: int, peer: bool = False) -> None:
        if peer:
            text = (
                f"the kernel refused a {size}-byte message (ENOMEM): it is longer "
                "than the peer's vsock buffer (a message must fit both sides' "
                f"SO_VM_SOCKETS_BUFFER_SIZE; this side's is {limit} bytes)"
            )
        else:
            text = (
                f"a {size}-byte message is longer than this connection takes: "
                f"{limit} bytes, its vsock buffer (SO_VM_SOCKETS_BUFFER_SIZE)"
            )
        super().__init__(text)
        self.size = size
        self.limit = limit
        self.peer = peer


class WaitTimeoutError(ConnectError):
    """
    A client told to wait for its server (``wait=``) gave up: the server was
    still not there when the wait ended. A ``ConnectError``, so handlers of
    Twisted's connect errors catch it too.

    :ivar target: what was connected to, as the user would write it.
    :ivar elapsed: seconds from the first attempt's start to giving up.
    :ivar attempts: how many attempts were started.
    :ivar last_error: why the last attempt failed; a Twisted
        ``TimeoutError`` when the wait ended while it was still connecting.
    """

    def __init__(
        self, target: str, elapsed: float, attempts: int, last_error: BaseException
    ) -> None:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(  # type: ignore[no-untyped-call]
            string=f"gave up connecting to {target} after {_seconds(elapsed)} "
            f"and {tries}; the last attempt: {last_error}"
        )
        self.target = target
        self.elapsed = elapsed
        self.attempts = attempts
        self.last_error = last_error
        # Tracebacks show the last attempt's error as the cause.
        self.__cause__ = last_error

    def __str__(self) -> str:
        # Only the message: ConnectError's own starts with the docstring.
        return str(self.args[0])


def _seconds(seconds: float) -> str:
    """``seconds`` to a tenth, as a person reads it: "10 seconds", "0.5 seconds"."""
    tenths = f"{seconds:.1f}".removesuffix(".0")
    return f"{tenths} second" if tenths == "1" else f"{tenths} seconds"
